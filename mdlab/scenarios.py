"""The scenario runner: real submissions (swaks over SMTP, sendmail from a website directory) whose
outcomes the integration tests assert on. Timed queue runs make delay warnings, retries and a
retry-timeout bounce happen within a minute instead of hours."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from . import topology as t
from .postfix import postfix_command

if TYPE_CHECKING:
    from .lab import Lab, Scenario

QUEUE_RUN_1_AFTER = 17.0  # seconds after the slow.test message: past delay_warning (15s)
QUEUE_RUN_2_AFTER = 23.0  # seconds after the dead.test message: past its retry cutoff (20s)

_EXIM_ID = re.compile(r"\b250 OK id=(\S+)")
_POSTFIX_ID = re.compile(r"\b250 2\.0\.0 Ok: queued as (\S+)")
_SERVER_REPLY = re.compile(r"^<(?:-|~|\*\*) +(\d{3})([ -])(.*)$", re.M)  # swaks: plain, TLS, error


@dataclass
class Send:
    """One SMTP submission with swaks."""

    scenario: str
    expected: str
    sender: str
    recipients: list[str]
    subject: str
    notes: str
    server: str = t.LOCAL_IP
    port: int = 25
    client_ip: str = "127.0.0.1"
    helo: str = "localhost"
    extra: list[str] = field(default_factory=list)


class _Outside(TypedDict):
    client_ip: str
    helo: str


def _sends() -> list[Send]:
    ext: _Outside = {"client_ip": t.CLIENT_IP, "helo": t.CLIENT_HOST}
    auth = ["--auth-user", t.SENDER, "--auth-password", t.AUTH_PASSWORD]
    s = t.SENDER
    # fmt: off
    return [
        Send("delivered_local", "delivered", "partner@remote.test", ["info@alice-shop.test"],
             "Invoice 2291 for March", "plain local delivery to an email account (maildir)"),
        Send("remote_user_unknown", "failed", s, ["nouser@remote.test"], "Quote request",
             "remote MX answers 550 5.1.1 at RCPT: bounce to the sender"),
        Send("remote_mailbox_full", "deferred", s, ["full@remote.test"], "Order confirmation",
             "remote MX answers 452 4.2.2 at RCPT: stays queued"),
        Send("remote_greylisted", "deferred", s, ["greylist@remote.test"], "Meeting notes",
             "remote MX always answers 451 4.7.1: stays queued"),
        Send("remote_too_many_connections", "deferred", s, ["orders@busy.test"], "Delivery schedule",
             "remote MX answers 421 at greeting: stays queued"),
        Send("remote_blocked_spam", "failed", s, ["buyer@remote.test"], "You are a WINNER - claim now",
             "remote MX answers 554 5.7.1 after DATA: bounce to the sender"),
        Send("default_address", "delivered", "partner@remote.test", ["anything@bob-blog.test"], "Comment on your post",
             "unknown address on bob-blog.test hits the default address '*: bob': main mailbox /home/bob/mail"),
        Send("local_mailbox_full", "deferred", "partner@remote.test", ["support@alice-shop.test"], "Big attachment",
             "support@alice-shop.test is over its cPanel quota: 'mailbox is full' deferral"),
        Send("sender_verify_fail", "rejected", "someone@nxdomain.test", ["info@alice-shop.test"], "Hi",
             "outside client with an unroutable sender domain: 550 Sender verify failed", **ext),
        Send("fail_forwarder", "failed", s, ["gone@alice-shop.test"], "Your order",
             "valias gone@alice-shop.test is ':fail: No such person at this address': local bounce"),
        Send("default_fail", "rejected", "friend@spf-pass.test", ["nobody@alice-shop.test"], "Hello",
             "unknown address hits the '*: :fail:' default; an outside client is refused at RCPT", **ext),
        Send("pipe_exit1", "failed", s, ["tickets@alice-shop.test"], "Ticket #4471",
             "valias pipe to a script that prints to stderr and exits 1: bounce with its output"),
        Send("pipe_output", "failed", s, ["autoreply@alice-shop.test"], "Out of office test",
             "valias pipe to a script that exits 0 but prints: return_output bounces it"),
        Send("spf_fail_rejected", "rejected", "billing@spf-fail.test", ["info@alice-shop.test"], "Invoice",
             "SPF -all from a non-listed client: 550 at RCPT, in the reject log", **ext),
        Send("spf_softfail_logged", "delivered", "billing@spf-softfail.test", ["info@alice-shop.test"], "Invoice",
             "SPF ~all: accepted, a softfail warning in the main log", **ext),
        Send("spf_pass", "delivered", "friend@spf-pass.test", ["info@alice-shop.test"], "Lunch?",
             "SPF pass from the listed client", **ext),
        Send("spf_neutral", "delivered", "news@spf-neutral.test", ["info@alice-shop.test"], "Newsletter",
             "SPF ?all: neutral, accepted", **ext),
        Send("spf_permerror", "delivered", "news@spf-permerror.test", ["info@alice-shop.test"], "Newsletter",
             "SPF record with 11 includes: permerror, accepted with a warning", **ext),
        Send("spf_temperror", "rejected", "news@spf-temperror.test", ["info@alice-shop.test"], "Newsletter",
             "SPF include gets SERVFAIL: temperror, 451 4.4.3 at RCPT", **ext),
        Send("auth_submission", "delivered", s, ["partner@remote.test"], "Contract draft",
             "SMTP AUTH PLAIN on 587 after STARTTLS", port=587, client_ip=t.CLIENT_IP, helo="laptop",
             extra=["--tls", "--auth", "PLAIN", *auth]),
        Send("auth_smtps", "delivered", s, ["partner@remote.test"], "Contract v2",
             "SMTP AUTH LOGIN on 465 (implicit TLS)", port=465, client_ip=t.CLIENT_IP, helo="laptop",
             extra=["--tlsc", "--auth", "LOGIN", *auth]),
        Send("frozen", "frozen", "spammer@nxdomain.test", ["gone@alice-shop.test"], "Cheap pills",
             "fails locally; its bounce to an unroutable sender is frozen"),
        Send("delay_warning", "deferred", s, ["queued@slow.test"], "Weekly report",
             "slow.test refuses connections: deferred, then a delay warning to the sender"),
        Send("retry_timeout", "failed", s, ["someone@dead.test"], "Catalogue",
             "dead.test refuses connections; its 20s retry rule expires: 'retry timeout exceeded' bounce"),
        Send("multi_recipient_bounce", "failed", s,
             ["nouser1@remote.test", "disabled@remote.test", "gone@alice-shop.test", "nobody@alice-shop.test"],
             "Team announcement", "one message, four failing recipients with different diagnostics: one bounce"),
        Send("delayed_then_delivered", "delivered", s, ["later@remote.test"], "Shipping update",
             "remote MX greylists the first attempt (451 4.7.1), accepts the retry: delay on our server"),
        Send("postfix_bounce", "failed", s, ["nouser-pf@remote.test"], "Via the Postfix relay",
             "relayed by Postfix, 550 5.1.1 at the remote MX: a Postfix DSN delivered to the sender",
             server=t.POSTFIX_IP),
        Send("postfix_deferred", "deferred", s, ["greylist@remote.test"], "Via the Postfix relay (greylisted)",
             "relayed by Postfix, 451 4.7.1 at the remote MX: deferred in Postfix's queue", server=t.POSTFIX_IP),
    ]
    # fmt: on


def swaks_argv(send: Send, msgid: str) -> list[str]:
    return [
        "swaks", "--server", send.server, "--port", str(send.port), "--local-interface", send.client_ip,
        "--helo", send.helo, "--from", send.sender, "--to", ",".join(send.recipients),
        "--header", f"Subject: {send.subject}", "--header", f"Message-Id: <{msgid}>",
        "--body", f"Lab scenario {send.scenario}.\n", "--timeout", "20", *send.extra,
    ]  # fmt: skip


def _replies(output: str) -> list[str]:
    """Server replies as swaks printed them, multi-line replies joined into one string."""
    replies: list[str] = []
    partial: list[str] = []
    for m in _SERVER_REPLY.finditer(output):
        partial.append(m.group(3) if partial else f"{m.group(1)} {m.group(3)}")
        if m.group(2) == " ":
            replies.append(" ".join(partial))
            partial = []
    return replies


def run_scenarios(lab: Lab, scenario_cls: type[Scenario], log: Callable[[str], None]) -> dict[str, Scenario]:
    """Send every scenario, drive the queue runs, wait until delivery settles."""
    scenarios: dict[str, Scenario] = {}
    sent_at: dict[str, float] = {}
    for send in _sends():
        msgid = f"mdlab-{send.scenario}-1@{send.sender.split('@')[1]}"
        res = lab.run(swaks_argv(send, msgid), timeout=40)
        out = res.stdout + res.stderr
        ids = _EXIM_ID.findall(out) + _POSTFIX_ID.findall(out)
        replies = _replies(out)
        sc = scenario_cls(
            send.scenario,
            send.expected,
            send.sender,
            list(send.recipients),
            send.client_ip,
            send.notes,
            ids,
            replies[-2] if len(replies) > 1 else (replies[-1] if replies else ""),
        )
        if send.expected == "rejected" and res.returncode == 0:
            sc.notes += f" (UNEXPECTED: accepted: {ids})"
        if send.expected != "rejected" and not ids:
            sc.notes += f" (UNEXPECTED: not accepted: rc={res.returncode} {replies[-3:]})"
        scenarios[send.scenario] = sc
        sent_at[send.scenario] = time.monotonic()
    scenarios["script_flood"] = _script_flood(lab, scenario_cls, "script_flood", 30, "remote.test")
    # The same script to a domain that defers: a queue full of one user's mail.
    scenarios["script_flood_queued"] = _script_flood(lab, scenario_cls, "script_flood_queued", 10, "busy.test")
    log(f"sent {len(scenarios)} scenarios")
    _settle_or_say(lab, log, "first delivery attempts")

    # Queue run 1: the greylisted-once message is delivered, delay warnings go out.
    _sleep_until(sent_at["delay_warning"] + QUEUE_RUN_1_AFTER)
    lab.exim("-qf")
    _settle_or_say(lab, log, "queue run 1")
    # Queue run 2: dead.test is past its retry cutoff, so it bounces with "retry timeout exceeded".
    _sleep_until(sent_at["retry_timeout"] + QUEUE_RUN_2_AFTER)
    lab.exim("-qf")
    _settle_or_say(lab, log, "queue run 2")
    _link_children(lab, scenarios)
    return scenarios


def _settle_or_say(lab: Lab, log: Callable[[str], None], stage: str) -> None:
    log(f"{stage}: settled" if settle(lab) else f"{stage}: still delivering after 30s, going on")


def _script_flood(lab: Lab, scenario_cls: type[Scenario], name: str, count: int, domain: str) -> Scenario:
    """COUNT messages from bob's compromised PHP script, run as bob from its directory."""
    bob = t.USERS[1]
    cwd = f"/home/{bob.name}/public_html/wp-content/uploads"
    php = ["php", "-d", "mail.add_x_header=On", "-d", "sendmail_path=/usr/sbin/sendmail -t -i"]
    res = lab.run([*php, "wp-mailer.php", str(count), domain, name], user=bob.uid, cwd=cwd, timeout=60)
    notes = f"{count} messages by PHP mail() (/usr/sbin/sendmail -t -i) from {cwd}/wp-mailer.php as user {bob.name}"
    if res.returncode != 0:
        notes += f" (UNEXPECTED: rc={res.returncode} {res.stderr[-300:]})"
    ids: list[str] = []
    deadline = time.monotonic() + 10
    pattern = re.compile(rf"^\S+ \S+ (?:\[\d+\] )?(\S+) <= .* id=mdlab-{name}-\d+@", re.M)
    while time.monotonic() < deadline:
        ids = pattern.findall(_mainlog_text(lab))
        if len(ids) >= count:
            break
        time.sleep(0.1)
    rcpts = [f"customer{n}@{domain}" for n in range(1, count + 1)]
    expected = "deferred" if domain == "busy.test" else "delivered"
    return scenario_cls(name, expected, f"{bob.name}@{t.HOSTNAME}", rcpts, "127.0.0.1", notes, ids)


def _mainlog_text(lab: Lab) -> str:
    return (lab.workdir / "live" / "var" / "log" / "exim_mainlog").read_text(errors="replace")


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _busy(lab: Lab) -> bool:
    """An Exim delivery or receiving process is still running, or Postfix has active mail."""
    daemons = {p.pid for p in lab.daemons.values()}
    for pid in lab.ns.pids():
        if pid in daemons:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"exim4") and b"-bdf" not in cmd:
            return True
    q = lab.run(postfix_command(lab.workdir, "postqueue", "-j"))
    return any('"queue_name": "active"' in line or '"queue_name": "incoming"' in line for line in q.stdout.splitlines())


def settle(lab: Lab, timeout: float = 30.0, quiet: float = 0.6) -> bool:
    """Wait until nothing has been delivering for `quiet` seconds (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    calm_since: float | None = None
    while time.monotonic() < deadline:
        if _busy(lab):
            calm_since = None
        elif calm_since is None:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            return True
        time.sleep(0.1)
    return False


def _link_children(lab: Lab, scenarios: dict[str, Scenario]) -> None:
    """Add the ids of bounces and warnings Exim generated (`<= <> R=PARENT`) to their scenario."""
    children: dict[str, list[str]] = {}
    for m in re.finditer(r"^\S+ \S+ (?:\[\d+\] )?(\S+) <= <> R=(\S+)", _mainlog_text(lab), re.M):
        children.setdefault(m.group(2), []).append(m.group(1))
    for sc in scenarios.values():
        for parent in list(sc.message_ids):
            sc.message_ids.extend(c for c in children.get(parent, []) if c not in sc.message_ids)
