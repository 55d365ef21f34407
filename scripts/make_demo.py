#!/usr/bin/env python3
"""Generate the bundled demo server: a cPanel/Exim server after a bad day.

Seeded and deterministic: the same seed writes the same tree. Run from the repo root:

    python3 scripts/make_demo.py            # writes src/maildoctor/demo/server/
    python3 scripts/make_demo.py --out DIR  # elsewhere

What happened on server1.hosting.example (2026-11-26 .. 2026-11-28), all in real Exim 4.96/4.98
line formats (the server was upgraded to 4.98 at 2026-11-27 12:00, so the log holds both the
16-character and the 23-character message ids):
- a hacked WordPress upload script of account `shopuser` floods out spam through sendmail
  (cwd= lines, U=shopuser P=local), most of it deferred or failing, the queue filling up;
- the mailbox info@clinic.example was stolen and sends spam over SMTP AUTH from many IPs;
- news@store.example is a legitimate, steady newsletter (must not be flagged);
- store.example's default address is `:fail: No such person at this address`, so mail to
  sales@store.example (a typo'd address customers use) is rejected;
- the support pipe runs /usr/local/bin/php, which does not exist (PHP is /usr/bin/php), so every
  ticket mail bounces with "Child process of address_pipe transport returned 127";
- mail from a forged bank domain is rejected on SPF; a message to a slow partner has been stuck in
  retry for two days; one to a dead domain hit the retry timeout; a mail to a partner was greylisted
  for three hours on our server (the header sample shows it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.logs.seek import base62

HOST = "server1.hosting.example"
HOST_IP = "192.0.2.10"
UPGRADE = dt.datetime(2026, 11, 27, 12, 0, 0)  # Exim 4.96 -> 4.98: new message-id format from here
START = dt.datetime(2026, 11, 26, 0, 0, 0)
END = dt.datetime(2026, 11, 28, 8, 0, 0)  # the snapshot was taken here

FLOOD_SCRIPT_DIR = "/home/shopuser/public_html/wp-content/uploads/2026/11"
STOLEN_LOGIN = "info@clinic.example"
NEWSLETTER = "news@store.example"

REMOTE_MX = {
    "gmail.example": ("mx.gmail.example", "198.51.100.20"),
    "yahoo.example": ("mx.yahoo.example", "198.51.100.21"),
    "hotmail.example": ("mx.hotmail.example", "198.51.100.22"),
    "partner.example": ("mail.partner.example", "198.51.100.30"),
    "slow-partner.example": ("mx.slow-partner.example", "198.51.100.31"),
    "customers.example": ("mx.customers.example", "198.51.100.32"),
}
SPAM_DOMAINS = [f"victim{i}.example" for i in range(1, 41)] + ["gmail.example", "yahoo.example", "hotmail.example"]


@dataclass
class Ids:
    rng: random.Random
    seen: set[str] = field(default_factory=set)

    def new(self, t: dt.datetime) -> str:
        epoch = int(t.replace(tzinfo=dt.UTC).timestamp())
        while True:
            pid = self.rng.randint(1000, 99999)
            if t >= UPGRADE:
                mid = f"{base62(epoch, 6)}-{base62(pid, 11)}-{base62(self.rng.randint(0, 62**4 - 1), 4)}"
            else:
                mid = f"{base62(epoch, 6)}-{base62(pid, 6)}-{base62(self.rng.randint(0, 62**2 - 1), 2)}"
            if mid not in self.seen:
                self.seen.add(mid)
                return mid


@dataclass
class Queued:
    mid: str
    sender: str
    recipients: list[str]
    received: dt.datetime
    subject: str
    login: str = "mailnull"
    uid: int = 47
    auth_id: str | None = None
    host_ip: str | None = None
    frozen: bool = False
    body_lines: int = 12


class LogWriter:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[tuple[dt.datetime, int, str]] = []
        self.reject: list[tuple[dt.datetime, int, str]] = []
        self.seq = 0

    def add(self, t: dt.datetime, text: str, reject: bool = False) -> None:
        pid = self.rng.randint(2000, 65000)
        self.seq += 1
        line = f"{t:%Y-%m-%d %H:%M:%S} [{pid}] {text}"
        self.lines.append((t, self.seq, line))
        if reject:
            self.reject.append((t, self.seq, line))

    def render(self, which: list[tuple[dt.datetime, int, str]]) -> str:
        return "".join(line + "\n" for _, _, line in sorted(which))


def smtp_delivery(
    log: LogWriter, t: dt.datetime, mid: str, rcpt: str, qt: float, rng: random.Random
) -> None:
    domain = rcpt.split("@")[1]
    mx, ip = REMOTE_MX.get(domain, (f"mx.{domain}", f"198.51.100.{rng.randint(40, 250)}"))
    log.add(
        t,
        f"{mid} => {rcpt} R=dkim_lookuphost T=dkim_remote_smtp H={mx} [{ip}] "
        f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes "
        f'C="250 2.0.0 OK {rng.randint(10**9, 10**10)} - queued" QT={int(qt)}s DT=1s',
    )


def arrival_fields(sender: str, size: int, msgid: str, subject: str, rcpts: list[str]) -> str:
    return f'S={size} id={msgid} T="{subject}" from <{sender}> for {" ".join(rcpts)}'


def gen_normal_traffic(log: LogWriter, ids: Ids, rng: random.Random) -> None:
    """Two days of ordinary mail: customers sending with SMTP AUTH, inbound mail to local boxes."""
    users = ["anna@store.example", "bob@store.example", "dr.lee@clinic.example", "office@myshop.example"]
    t = START
    while t < END:
        t += dt.timedelta(seconds=rng.randint(120, 900))
        if rng.random() < 0.5:
            sender = rng.choice(users)
            rcpt = f"{rng.choice(['jane', 'tom', 'orders', 'li'])}@{rng.choice(['gmail.example', 'customers.example', 'partner.example'])}"
            mid = ids.new(t)
            ip = f"203.0.113.{rng.randint(2, 60)}"
            log.add(
                t,
                f"{mid} <= {sender} H=(laptop) [{ip}]:{rng.randint(40000, 65000)} P=esmtpsa "
                f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_login:{sender} "
                + arrival_fields(sender, rng.randint(2000, 90000), f"{rng.randint(10**8, 10**9)}@{sender.split('@')[1]}",
                                 rng.choice(["Re: order", "Invoice", "Meeting notes", "Quote"]), [rcpt]),
            )
            smtp_delivery(log, t + dt.timedelta(seconds=1), mid, rcpt, 1, rng)
            log.add(t + dt.timedelta(seconds=1), f"{mid} Completed QT=1s")
        else:
            rcpt = rng.choice(users)
            sender = f"{rng.choice(['news', 'jane', 'billing'])}@{rng.choice(['gmail.example', 'partner.example', 'customers.example'])}"
            mid = ids.new(t)
            sdom = sender.split("@")[1]
            mx, ip = REMOTE_MX[sdom]
            log.add(
                t,
                f"{mid} <= {sender} H={mx} [{ip}]:{rng.randint(40000, 65000)} P=esmtps "
                f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "
                + arrival_fields(sender, rng.randint(3000, 60000), f"{rng.randint(10**8, 10**9)}@{sdom}",
                                 rng.choice(["Hello", "Your order", "Re: quote"]), [rcpt]),
            )
            local, dom = rcpt.split("@")
            user = {"store.example": "storeacct", "clinic.example": "clinic", "myshop.example": "shopuser"}[dom]
            log.add(
                t + dt.timedelta(seconds=1),
                f"{mid} => {local} <{rcpt}> R=virtual_user T=virtual_userdelivery "
                f"C=\"250 OK\" QT=1s DT=0s",
            )
            log.add(t + dt.timedelta(seconds=1), f"{mid} Completed QT=1s")
            del user


def gen_newsletter(log: LogWriter, ids: Ids, rng: random.Random) -> None:
    """A legitimate weekly-style newsletter: steady 60 messages/hour for 4 hours, few failures."""
    t = dt.datetime(2026, 11, 27, 8, 0, 0)
    for n in range(240):
        t += dt.timedelta(seconds=60)
        mid = ids.new(t)
        rcpt = f"subscriber{n}@{rng.choice(['gmail.example', 'customers.example', 'partner.example'])}"
        log.add(
            t,
            f"{mid} <= {NEWSLETTER} H=(newsletter-app) [203.0.113.200]:{rng.randint(40000, 65000)} P=esmtpsa "
            f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_login:{NEWSLETTER} "
            + arrival_fields(NEWSLETTER, 24000, f"nl{n}.20261127@store.example", "Store news: November offers", [rcpt]),
        )
        if n % 80 == 17:
            log.add(
                t + dt.timedelta(seconds=2),
                f"{mid} ** {rcpt} R=dkim_lookuphost T=dkim_remote_smtp H=mx.customers.example [198.51.100.32]: "
                f"SMTP error from remote mail server after RCPT TO:<{rcpt}>: 550 5.1.1 <{rcpt}>: Recipient address rejected: "
                "User unknown in virtual mailbox table",
            )
        else:
            smtp_delivery(log, t + dt.timedelta(seconds=2), mid, rcpt, 2, rng)
        log.add(t + dt.timedelta(seconds=2), f"{mid} Completed QT=2s")


def gen_script_flood(log: LogWriter, ids: Ids, rng: random.Random, queue: list[Queued]) -> None:
    """The hacked upload script: bursts through sendmail from 2026-11-28 06:14 until the snapshot."""
    t = dt.datetime(2026, 11, 28, 6, 14, 3)
    n = 0
    while t < END - dt.timedelta(minutes=5):
        t += dt.timedelta(seconds=rng.choice([2, 3, 4, 5, 6]))
        n += 1
        mid = ids.new(t)
        rcpts = [f"{rng.choice(['info', 'sales', 'admin', 'contact', 'john', 'mary'])}{rng.randint(1, 999)}@{rng.choice(SPAM_DOMAINS)}"
                 for _ in range(rng.randint(1, 3))]
        subject = rng.choice(["Your account has been suspended", "Invoice #44821 overdue", "You have (1) new voicemail"])
        log.add(t, f"cwd={FLOOD_SCRIPT_DIR} 3 args: /usr/sbin/sendmail -t -i")
        sender = f"shopuser@{HOST}"
        log.add(
            t,
            f"{mid} <= {sender} U=shopuser P=local "
            + arrival_fields(sender, rng.randint(1500, 4000), f"{mid}@myshop.example", subject, rcpts),
        )
        undelivered = []
        for rcpt in rcpts:
            dom = rcpt.split("@")[1]
            r = rng.random()
            at = t + dt.timedelta(seconds=rng.randint(1, 4))
            if dom in ("yahoo.example", "hotmail.example") or r < 0.35:
                mx, ip = REMOTE_MX.get(dom, (f"mx.{dom}", "198.51.100.77"))
                log.add(
                    at,
                    f"{mid} == {rcpt} R=dkim_lookuphost T=dkim_remote_smtp defer (-46) H={mx} [{ip}]: "
                    f"SMTP error from remote mail server after end of data: 421 4.7.0 [TSS04] Messages from {HOST_IP} "
                    "temporarily deferred due to unexpected volume or user complaints",
                )
                undelivered.append(rcpt)
            elif r < 0.55:
                mx, ip = REMOTE_MX.get(dom, (f"mx.{dom}", "198.51.100.78"))
                log.add(
                    at,
                    f"{mid} ** {rcpt} R=dkim_lookuphost T=dkim_remote_smtp H={mx} [{ip}]: SMTP error from remote "
                    f"mail server after RCPT TO:<{rcpt}>: 550 5.7.1 Service unavailable; client [{HOST_IP}] blocked "
                    "using zen.spamhaus.org",
                )
            else:
                smtp_delivery(log, at, mid, rcpt, 3, rng)
        if undelivered:
            queue.append(Queued(mid, sender, undelivered, t, subject, login="shopuser", uid=1001, frozen=n % 25 == 0))
        else:
            log.add(t + dt.timedelta(seconds=5), f"{mid} Completed QT=5s")
        if n % 9 == 0:  # backscatter: bounces coming back to the forged sender
            bt = t + dt.timedelta(seconds=30)
            bid = ids.new(bt)
            log.add(
                bt,
                f"{bid} <= <> H=mx.victim{rng.randint(1, 40)}.example [198.51.100.{rng.randint(100, 199)}]:25 P=esmtp "
                f"S=5120 T=\"Undelivered Mail Returned to Sender\" from <> for shopuser@{HOST}",
            )
            log.add(bt, f"{bid} => shopuser <shopuser@{HOST}> R=localuser T=local_delivery QT=0s DT=0s")
            log.add(bt, f"{bid} Completed QT=0s")


def gen_stolen_mailbox(log: LogWriter, ids: Ids, rng: random.Random, queue: list[Queued]) -> None:
    """info@clinic.example logs in from many countries at once and sends phishing."""
    t = dt.datetime(2026, 11, 28, 5, 30, 0)
    ips = [f"{rng.choice([45, 91, 185, 193])}.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}" for _ in range(37)]
    while t < END - dt.timedelta(minutes=10):
        t += dt.timedelta(seconds=rng.randint(4, 14))
        ip = rng.choice(ips)
        mid = ids.new(t)
        rcpts = [f"user{rng.randint(1, 9999)}@{rng.choice(SPAM_DOMAINS)}" for _ in range(rng.randint(3, 8))]
        log.add(
            t,
            f"{mid} <= {STOLEN_LOGIN} H=(User) [{ip}]:{rng.randint(40000, 65000)} P=esmtpa A=dovecot_login:{STOLEN_LOGIN} "
            + arrival_fields(STOLEN_LOGIN, rng.randint(3000, 9000), f"{mid}@clinic.example", "Payment confirmation", rcpts),
        )
        failed = 0
        for rcpt in rcpts:
            at = t + dt.timedelta(seconds=2)
            if rng.random() < 0.4:
                failed += 1
                log.add(
                    at,
                    f"{mid} ** {rcpt} R=dkim_lookuphost T=dkim_remote_smtp H=mx.{rcpt.split('@')[1]} [198.51.100.90]: "
                    f"SMTP error from remote mail server after RCPT TO:<{rcpt}>: 550 5.1.1 <{rcpt}>: user unknown",
                )
            else:
                smtp_delivery(log, at, mid, rcpt, 2, rng)
        log.add(t + dt.timedelta(seconds=3), f"{mid} Completed QT=3s")
        if failed:
            bt = t + dt.timedelta(seconds=4)
            bid = ids.new(bt)
            log.add(
                bt,
                f"{bid} <= <> R={mid} U=mailnull P=local S=4096 T=\"Mail delivery failed: returning message to sender\" "
                f"from <> for {STOLEN_LOGIN}",
            )
            log.add(bt, f"{bid} => info <{STOLEN_LOGIN}> R=virtual_user T=virtual_userdelivery QT=0s DT=0s")
            log.add(bt, f"{bid} Completed QT=0s")


def gen_incidents(log: LogWriter, ids: Ids, rng: random.Random, queue: list[Queued]) -> dict[str, str]:
    """The single incidents the demo is about; returns their message ids by name."""
    named: dict[str, str] = {}
    # :fail: default address: customers writing to sales@store.example are rejected at RCPT time.
    for k in range(14):
        t = dt.datetime(2026, 11, 26, 9, 0, 0) + dt.timedelta(hours=3 * k, minutes=rng.randint(0, 50))
        ip = f"198.51.100.{rng.randint(20, 32)}"
        log.add(
            t,
            f"H=mail.partner.example [{ip}]:{rng.randint(40000, 65000)} X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "
            f"F=<buyer{k}@partner.example> rejected RCPT <sales@store.example>: No such person at this address",
            reject=True,
        )
    # SPF: a forged bank domain, rejected.
    for k in range(6):
        t = dt.datetime(2026, 11, 27, 14, 5, 0) + dt.timedelta(minutes=17 * k)
        log.add(
            t,
            f"H=(bank-secure.example) [198.51.100.66]:{rng.randint(40000, 65000)} F=<security@bank.example> "
            "rejected RCPT <dr.lee@clinic.example>: SPF check failed: 198.51.100.66 is not allowed to send mail "
            "from bank.example (-all)",
            reject=True,
        )
    # The broken support pipe: every ticket bounces.
    for k in range(5):
        t = dt.datetime(2026, 11, 27, 9, 30, 0) + dt.timedelta(hours=2 * k)
        mid = ids.new(t)
        sender = f"customer{k}@customers.example"
        log.add(
            t,
            f"{mid} <= {sender} H=mx.customers.example [198.51.100.32]:{rng.randint(40000, 65000)} P=esmtps "
            f"X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "
            + arrival_fields(sender, 4200, f"ticket{k}@customers.example", "Help with my order", ["support@store.example"]),
        )
        log.add(
            t,
            f"{mid} ** |/usr/local/bin/php -q /home/storeacct/public_html/tickets/pipe.php <support@store.example> "
            "R=virtual_aliases T=address_pipe: Child process of address_pipe transport returned 127 "
            "(could mean unable to exec or command does not exist) from command: /usr/local/bin/php",
        )
        bid = ids.new(t)
        log.add(
            t,
            f"{bid} <= <> R={mid} U=mailnull P=local S=5300 T=\"Mail delivery failed: returning message to sender\" "
            f"from <> for {sender}",
        )
        smtp_delivery(log, t + dt.timedelta(seconds=1), bid, sender, 1, rng)
        log.add(t + dt.timedelta(seconds=1), f"{bid} Completed QT=1s")
        log.add(t, f"{mid} Completed QT=0s")
        named.setdefault("pipe_failure", mid)
    # Stuck in retry for two days: the slow partner's MX times out.
    t0 = dt.datetime(2026, 11, 26, 6, 12, 44)
    mid = ids.new(t0)
    named["stuck_retry"] = mid
    rcpt = "orders@slow-partner.example"
    log.add(
        t0,
        f"{mid} <= bob@store.example H=(laptop) [203.0.113.14]:51234 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 "
        "CV=no A=dovecot_login:bob@store.example "
        + arrival_fields("bob@store.example", 48211, "po-7781@store.example", "PO 7781", [rcpt]),
    )
    t = t0
    while t < END - dt.timedelta(hours=1):
        t += dt.timedelta(minutes=rng.choice([30, 45, 60, 90]))
        log.add(
            t,
            f"{mid} == {rcpt} R=dkim_lookuphost T=dkim_remote_smtp defer (110): Connection timed out "
            "H=mx.slow-partner.example [198.51.100.31]",
        )
        log.add(t + dt.timedelta(minutes=5), f"{mid} {rcpt} R=dkim_lookuphost T=dkim_remote_smtp: retry time not reached for any host for 'slow-partner.example'")
    queue.append(Queued(mid, "bob@store.example", [rcpt], t0, "PO 7781", auth_id="bob@store.example", host_ip="203.0.113.14"))
    # Retry timeout exceeded for a dead domain, and the bounce it caused.
    t = dt.datetime(2026, 11, 27, 6, 40, 0)
    mid = ids.new(t - dt.timedelta(days=4))
    named["retry_timeout"] = mid
    log.add(t, f"{mid} ** info@closed-company.example R=dkim_lookuphost T=dkim_remote_smtp: retry timeout exceeded")
    bid = ids.new(t)
    log.add(t, f"{bid} <= <> R={mid} U=mailnull P=local S=3920 T=\"Mail delivery failed: returning message to sender\" from <> for anna@store.example")
    log.add(t, f"{bid} => anna <anna@store.example> R=virtual_user T=virtual_userdelivery QT=0s DT=0s")
    log.add(t, f"{bid} Completed QT=0s")
    log.add(t, f"{mid} Completed QT=4d")
    # Greylisted for three hours on our server (the header sample delayed-partner.eml is this message).
    t = dt.datetime(2026, 11, 27, 9, 0, 7)
    mid = ids.new(t)
    named["greylisted"] = mid
    rcpt = "jane@partner.example"
    log.add(
        t,
        f"{mid} <= anna@store.example H=(anna-pc) [203.0.113.25]:50110 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 "
        "CV=no A=dovecot_login:anna@store.example "
        + arrival_fields("anna@store.example", 18320, "3f9a.anna@store.example", "Contract draft", [rcpt]),
    )
    for minutes in (0, 15, 45, 105):
        log.add(
            t + dt.timedelta(minutes=minutes, seconds=2),
            f"{mid} == {rcpt} R=dkim_lookuphost T=dkim_remote_smtp defer (-45) H=mail.partner.example [198.51.100.30]: "
            f"SMTP error from remote mail server after RCPT TO:<{rcpt}>: 451 4.7.1 Greylisted, please try again later",
        )
    smtp_delivery(log, dt.datetime(2026, 11, 27, 12, 10, 2), mid, rcpt, 3 * 3600 + 9 * 60 + 55, rng)
    log.add(dt.datetime(2026, 11, 27, 12, 10, 2), f"{mid} Completed QT=3h9m55s")
    # Mailbox over quota: deferred, then the delay warning.
    t = dt.datetime(2026, 11, 27, 16, 20, 0)
    mid = ids.new(t)
    named["mailbox_full"] = mid
    log.add(
        t,
        f"{mid} <= billing@partner.example H=mail.partner.example [198.51.100.30]:44120 P=esmtps "
        + arrival_fields("billing@partner.example", 2210000, "inv-5531@partner.example", "Invoice 5531", ["dr.lee@clinic.example"]),
    )
    log.add(
        t,
        f"{mid} == dr.lee@clinic.example R=virtual_user T=virtual_userdelivery defer (-22): mailbox is full "
        "(MTA-imposed quota exceeded while writing to /home/clinic/mail/clinic.example/dr.lee)",
    )
    queue.append(Queued(mid, "billing@partner.example", ["dr.lee@clinic.example"], t, "Invoice 5531", host_ip="198.51.100.30"))
    # Authentication failures (password guessing) and a lost connection.
    for k in range(8):
        t = dt.datetime(2026, 11, 27, 20, 0, 0) + dt.timedelta(minutes=k)
        log.add(
            t,
            f"dovecot_login authenticator failed for (User) [185.220.101.{k + 3}]:{rng.randint(40000, 65000)}: "
            "535 Incorrect authentication data (set_id=admin@store.example)",
            reject=True,
        )
    log.add(dt.datetime(2026, 11, 27, 20, 9, 1), "SMTP connection from (User) [185.220.101.9]:50123 lost")
    return named


def spool_header(q: Queued, rng: random.Random) -> str:
    epoch = int(q.received.replace(tzinfo=dt.UTC).timestamp())
    lines = [f"{q.mid}-H", f"{q.login} {q.uid} {q.uid}", f"<{q.sender}>", f"{epoch} 0"]
    if q.login != "mailnull":
        lines.append(f"-ident {q.login}")
    lines.append("-received_protocol " + ("local" if q.host_ip is None else "esmtpsa"))
    if q.auth_id:
        lines += [f"-auth_id {q.auth_id}", f"-auth_sender {q.auth_id}"]
    if q.host_ip:
        lines += [f"-host_address {q.host_ip}.{rng.randint(40000, 65000)}", "-host_name laptop"]
    lines += [f"-body_linecount {q.body_lines}", "-max_received_linelength 98"]
    if q.frozen:
        lines.append(f"-frozen {epoch + 600}")
    lines += ["XX", str(len(q.recipients)), *q.recipients, ""]
    date = q.received.strftime("%a, %d %b %Y %H:%M:%S +0000")
    via = "local" if q.host_ip is None else "esmtpsa"
    headers = [
        ("P", f"Received: from {q.login if q.host_ip is None else f'[{q.host_ip}] (helo=laptop)'} by {HOST} "
              f"with {via} (Exim 4.98)\n\t(envelope-from <{q.sender}>)\n"
              f"\tid {q.mid}\n\tfor {', '.join(q.recipients)}; {date}\n"),
        ("T", f"To: {', '.join(q.recipients)}\n"),
        (" ", f"Subject: {q.subject}\n"),
        ("I", f"Message-Id: <E{q.mid}@{HOST}>\n"),
        ("F", f"From: <{q.sender}>\n"),
        (" ", f"Date: {date}\n"),
    ]
    text = "\n".join(lines) + "\n"
    for flag, h in headers:
        text += f"{len(h):03d}{flag} {h}"
    return text


def write_spool(root: Path, queue: list[Queued], rng: random.Random) -> None:
    inp = root / "var/spool/exim/input"
    inp.mkdir(parents=True, exist_ok=True)
    for q in queue:
        (inp / f"{q.mid}-H").write_text(spool_header(q, rng))
        body = "".join(f"Line {i} of the message body.\n" for i in range(q.body_lines))
        (inp / f"{q.mid}-D").write_text(f"{q.mid}-D\n{body}")


def write_config(root: Path) -> None:
    files = {
        "etc/localdomains": "server1.hosting.example\nstore.example\nclinic.example\nmyshop.example\n",
        "etc/userdomains": "store.example: storeacct\nclinic.example: clinic\nmyshop.example: shopuser\n*: nobody\n",
        "etc/trueuserdomains": "store.example: storeacct\nclinic.example: clinic\nmyshop.example: shopuser\n",
        "etc/valiases/store.example": (
            "bob.smith@store.example: bob@store.example\n"
            "support@store.example: |/usr/local/bin/php -q /home/storeacct/public_html/tickets/pipe.php\n"
            "orders@store.example: anna@store.example, orders.store@gmail.example\n"
            "*: :fail: No such person at this address\n"
        ),
        "etc/valiases/clinic.example": "reception@clinic.example: dr.lee@clinic.example\n*: clinic\n",
        "etc/valiases/myshop.example": "*: :blackhole:\n",
        "etc/vdomainaliases": "",
        "etc/passwd": (
            "root:x:0:0:root:/root:/bin/bash\nmailnull:x:47:47::/var/spool/mqueue:/sbin/nologin\n"
            "storeacct:x:1002:1002::/home/storeacct:/bin/bash\nclinic:x:1003:1003::/home/clinic:/bin/bash\n"
            "shopuser:x:1001:1001::/home/shopuser:/bin/bash\n"
        ),
        "etc/csf/csf.conf": (
            '# Generated demo: ConfigServer Security & Firewall\nTESTING = "0"\n'
            'TCP_IN = "20,21,22,25,26,53,80,110,143,443,465,587,993,995,2077,2078,2083,2087,2096"\n'
            'TCP_OUT = "20,21,22,25,37,43,53,80,110,113,443,587,873,2087,2089,2703"\n'
            'SMTP_BLOCK = "1"\nSMTP_ALLOWLOCAL = "1"\nSMTP_REDIRECT = "0"\nSMTP_PORTS = "25,465,587"\n'
            'SMTP_ALLOWUSER = ""\nSMTP_ALLOWGROUP = "mail,mailman"\nLF_SCRIPT_ALERT = "0"\nLF_SCRIPT_LIMIT = "250"\n'
        ),
        "home/storeacct/public_html/tickets/pipe.php": "#!/usr/local/bin/php -q\n<?php\n// read the ticket from STDIN\n$mail = file_get_contents('php://stdin');\n",
        "home/shopuser/public_html/wp-content/uploads/2026/11/wp-mailer.php": "<?php /* obfuscated dropper (demo placeholder) */ eval(base64_decode('ZWNobyAnJzs='));\n",
        "home/shopuser/public_html/index.php": "<?php require 'wp-blog-header.php';\n",
        "usr/bin/php": "#!/bin/sh\n# placeholder for the real PHP CLI in the demo snapshot\n",
    }
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for rel in ("home/storeacct/public_html/tickets/pipe.php", "usr/bin/php"):
        p = root / rel
        p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    write_mailboxes(root)


MAILBOXES = {  # cPanel account -> domain -> local parts (quota in bytes, 0 = unlimited)
    "storeacct": {"store.example": {"anna": 0, "bob": 0, "news": 0}},
    "clinic": {"clinic.example": {"dr.lee": 52428800, "info": 0}},
    "shopuser": {"myshop.example": {"office": 0}},
}


def write_mailboxes(root: Path) -> None:
    """cPanel's mailbox list (~/etc/DOMAIN/passwd, quota) and a maildir per mailbox.

    Each maildir holds one message in cur/, so the tree survives git (which keeps no empty folders).
    """
    uids = {"storeacct": 1002, "clinic": 1003, "shopuser": 1001}
    for user, domains in MAILBOXES.items():
        home = root / "home" / user
        for domain, boxes in domains.items():
            etc = home / "etc" / domain
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "passwd").write_text("".join(
                f"{local}:x:{uids[user]}:{uids[user]}::/home/{user}/mail/{domain}/{local}:/usr/local/cpanel/bin/noshell\n"
                for local in boxes))
            (etc / "quota").write_text("".join(f"{local}:{q}\n" for local, q in boxes.items() if q))
            for local in boxes:
                box = home / "mail" / domain / local
                for sub in ("new", "tmp"):
                    (box / sub).mkdir(parents=True, exist_ok=True)
                    (box / sub / ".keep").write_text("")
                (box / "cur").mkdir(parents=True, exist_ok=True)
                (box / "cur" / f"1795600000.M1P1.{HOST},S=120:2,S").write_text(
                    f"From: welcome@{HOST}\nTo: {local}@{domain}\nSubject: Welcome\n\nYour mailbox is ready.\n")


def exim_bounce(boundary: str, to: str, date: str, mid: str, reporter: str, failed: list[tuple[str, list[str], str, str]],
                original: str, subject: str = "Mail delivery failed: returning message to sender") -> str:
    """An Exim 4.9x bounce: text part, message/delivery-status part, the original headers."""
    text_lines = []
    dsn = [f"Reporting-MTA: dns; {reporter}", ""]
    for rcpt, explain, status, diag in failed:
        text_lines.append(f"  {rcpt}")
        text_lines += [f"    {e}" for e in explain]
        dsn += [
            "Action: failed",
            f"Final-Recipient: rfc822;{rcpt}",
            f"Status: {status}",
            *([f"Diagnostic-Code: {diag}"] if diag else []),
            "",
        ]
    return (
        f"Return-path: <>\nFrom: Mail Delivery System <Mailer-Daemon@{reporter}>\nTo: {to}\n"
        f"Content-Type: multipart/report; report-type=delivery-status; boundary={boundary}\n"
        f"MIME-Version: 1.0\nSubject: {subject}\nMessage-Id: <E{mid}@{reporter}>\nDate: {date}\n"
        "Auto-Submitted: auto-replied\n\n"
        f"--{boundary}\nContent-type: text/plain; charset=us-ascii\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        + "\n".join(text_lines) + "\n\n"
        f"--{boundary}\nContent-type: message/delivery-status\n\n" + "\n".join(dsn) + "\n"
        f"--{boundary}\nContent-type: text/rfc822-headers\n\n{original}\n--{boundary}--\n"
    )


def write_samples(root: Path, named: dict[str, str]) -> None:
    bdir = root / "demo-samples/bounces"
    hdir = root / "demo-samples/headers"
    bdir.mkdir(parents=True, exist_ok=True)
    hdir.mkdir(parents=True, exist_ok=True)
    (bdir / "no-such-person.eml").write_text(exim_bounce(
        "1732702201-eximdsn-1804289383", "buyer3@partner.example", "Thu, 26 Nov 2026 18:10:01 +0000",
        "1tG0aa-0001Qx-Zz", "mail.partner.example",
        [("sales@store.example", [f"host {HOST} [{HOST_IP}]",
                                  "SMTP error from remote mail server after RCPT TO:<sales@store.example>:",
                                  "550 No such person at this address"], "5.0.0",
          "smtp; 550 No such person at this address")],
        "Received: from buyer3 by mail.partner.example with local (Exim 4.96)\n\tid 1tG0aZ-0001Qw-Yy\n"
        "\tfor sales@store.example; Thu, 26 Nov 2026 18:10:00 +0000\nFrom: buyer3@partner.example\n"
        "To: sales@store.example\nSubject: Bulk order enquiry\nMessage-Id: <bulk-3@partner.example>",
    ))
    pipe_mid = named["pipe_failure"]
    (bdir / "pipe-failure.eml").write_text(exim_bounce(
        "1732699800-eximdsn-1714636915", "customer0@customers.example", "Fri, 27 Nov 2026 09:30:00 +0000",
        "1tGk9a-0002Ab-1x", HOST,
        [("pipe to |/usr/local/bin/php -q /home/storeacct/public_html/tickets/pipe.php",
          ["generated by support@store.example",
           "Child process of address_pipe transport returned 127 (could mean unable to exec or command does not",
           "exist) from command: /usr/local/bin/php"], "5.0.0", "")],
        f"Received: from mx.customers.example ([198.51.100.32])\n\tby {HOST} with esmtps (Exim 4.96)\n"
        f"\tid {pipe_mid}\n\tfor support@store.example; Fri, 27 Nov 2026 09:30:00 +0000\n"
        "From: customer0@customers.example\nTo: support@store.example\nSubject: Help with my order\n"
        "Message-Id: <ticket0@customers.example>",
    ))
    (bdir / "spf-rejected.eml").write_text(exim_bounce(
        "1732790000-eximdsn-1957747793", "anna@store.example", "Sat, 28 Nov 2026 07:13:20 +0000",
        "1tGzzz-0000Aa-Bc", HOST,
        [("orders@customers.example", ["host mx.customers.example [198.51.100.32]",
                                       "SMTP error from remote mail server after RCPT TO:<orders@customers.example>:",
                                       "550 5.7.23 The message was rejected because of Sender Policy Framework "
                                       "violation: 192.0.2.99 is not allowed to send for store.example"],
          "5.7.23", "smtp; 550 5.7.23 The message was rejected because of Sender Policy Framework violation")],
        "Received: from anna by relay.other-host.example with local\nFrom: anna@store.example\n"
        "To: orders@customers.example\nSubject: Re: quote\nMessage-Id: <q-18@store.example>",
    ))
    (bdir / "delay-warning.eml").write_text(
        f"Return-path: <>\nFrom: Mail Delivery System <Mailer-Daemon@{HOST}>\nTo: bob@store.example\n"
        f"Subject: Warning: message {named['stuck_retry']} delayed 24 hours\n"
        f"Message-Id: <E1tGyyy-0000Xx-Yy@{HOST}>\nDate: Fri, 27 Nov 2026 06:15:00 +0000\n"
        "Auto-Submitted: auto-replied\nX-Failed-Recipients: orders@slow-partner.example\n\n"
        "This message was created automatically by mail delivery software.\n"
        f"A message that you sent has not yet been delivered to one or more of its\n"
        "recipients after more than 24 hours on the queue on server1.hosting.example.\n\n"
        "The message identifier is:     " + named["stuck_retry"] + "\n"
        "The subject of the message is: PO 7781\n"
        "The date of the message is:    Thu, 26 Nov 2026 06:12:44 +0000\n\n"
        "The address to which the message has not yet been delivered is:\n\n"
        "  orders@slow-partner.example\n"
        "    Delay reason: Connection timed out\n\n"
        "No action is required on your part. Delivery attempts will continue for\n"
        "some time, and this warning may be repeated at intervals if the message\n"
        "remains undelivered. Eventually the mail delivery software will give up,\n"
        "and when that happens, the message will be returned to you.\n"
    )
    grey = named["greylisted"]
    (hdir / "delayed-partner.eml").write_text(
        "Return-Path: <anna@store.example>\n"
        "Received: from server1.hosting.example (server1.hosting.example [192.0.2.10])\n"
        "\tby mail.partner.example (Postfix) with ESMTPS id 4N1xYz2QkRz9sT\n"
        "\tfor <jane@partner.example>; Fri, 27 Nov 2026 12:10:03 +0000 (UTC)\n"
        "Received: from [203.0.113.25] (port=50110 helo=anna-pc)\n"
        "\tby server1.hosting.example with esmtpsa  (TLS1.3) tls TLS_AES_256_GCM_SHA384\n"
        "\t(Exim 4.98)\n\t(envelope-from <anna@store.example>)\n"
        f"\tid {grey}\n\tfor jane@partner.example;\n\tFri, 27 Nov 2026 09:00:07 +0000\n"
        "Authentication-Results: mail.partner.example; spf=pass smtp.mailfrom=store.example;\n"
        "\tdkim=pass header.d=store.example header.s=default\n"
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=store.example; s=default; h=From:To:Subject:Date;\n"
        "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==\n"
        "From: Anna <anna@store.example>\nTo: jane@partner.example\nSubject: Contract draft\n"
        "Date: Fri, 27 Nov 2026 09:00:05 +0000\nMessage-ID: <3f9a.anna@store.example>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain\n\nPlease find the draft attached.\n"
    )


def build(out: Path, seed: int) -> None:
    rng = random.Random(seed)
    ids = Ids(rng)
    log = LogWriter(rng)
    queue: list[Queued] = []
    gen_normal_traffic(log, ids, rng)
    gen_newsletter(log, ids, rng)
    named = gen_incidents(log, ids, rng, queue)
    gen_stolen_mailbox(log, ids, rng, queue)
    gen_script_flood(log, ids, rng, queue)
    if out.exists():
        shutil.rmtree(out)
    logdir = out / "var/log"
    logdir.mkdir(parents=True)
    (logdir / "exim_mainlog").write_text(log.render(log.lines))
    (logdir / "exim_rejectlog").write_text(log.render(log.reject))
    (logdir / "exim_paniclog").write_text("")
    write_spool(out, queue, rng)
    write_config(out)
    write_samples(out, named)
    (out / "README.demo").write_text(__doc__ or "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "src/maildoctor/demo/server")
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()
    build(args.out, args.seed)
    print(f"demo server written to {args.out}")


if __name__ == "__main__":
    main()
