"""Exim: 'Mail delivery failed: returning message to sender' and delay warnings.

Each failed address starts a block indented by two spaces; its indented continuation lines
are that address's own diagnostic, so every recipient of a multi-recipient bounce keeps its
own text (a DSN part, when Exim adds one, is merged per address).
"""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.dsn import parse_dsn
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address, find_addresses, split_original, squeeze

_SUBJECT = re.compile(
    r"Mail delivery failed|Warning: message \S+ delayed|Delivery Status Notification|Mail failure|"
    r"Message frozen|error\(s\) in forwarding or filtering|Undelivered Mail",
    re.I,
)
_EXIM_ID = re.compile(r"^<?E?\w{6}-\w{6,11}-\w{2,4}@")
_START = re.compile(
    r"^(?:This message was created automatically by mail delivery software|"
    r"A message that you sent (?:was rejected by the local scann?ing code|contained one or more recipient|"
    r"could not be delivered|has not yet been delivered)|Message \S+ (?:has been frozen|was frozen on arrival)|"
    r"The \S+ router encountered the following error)",
    re.M,
)
_RCPT = re.compile(r"^[ \t]{2}(?:\S+@\S+ <)?(\S+@\S+?|an undisclosed address)>?(?::[ \t]*(.*))?$")
_GENERATED = re.compile(r"^\s+\(?generated (?:from|by) ([^\s)]+)\)?", re.I)
_TARGET = re.compile(r"^[ \t]{2}((?:pipe to |save to )?[|/]\S.*|save to \S.*)$")
_BARE = re.compile(r"^[ \t]{2}([A-Za-z0-9._%+-]+)$")  # a bare local part ("  kijitora")
_GENERATED_TEXT = re.compile(
    r"^-{6} (.+?)(?:\n\s+generated (?:by|from) (\S+))? -{6}\n(.*?)(?=^-{6} |^Reporting-MTA:|\Z)", re.M | re.S
)
_COMMAND = re.compile(r"(?:SMTP|LMTP) error (?:from remote (?:mail server|mailer) )?after (?:end of )?([A-Za-z]{4})")
_TRANSPORT = re.compile(r"SMTP error|LMTP error|transport|Child process|retry|timeout|delay|frozen|host ", re.I)
_HOST = re.compile(r"\bhost\s+(\S+)\s+\[([0-9a-fA-F.:]+)\]")
_MESSAGES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("mailererror", re.compile(r"Child process of \S+ transport returned \d+", re.I)),
    ("userunknown", re.compile(r"user not found", re.I)),
    ("hostunknown", re.compile(
        r"all host address lookups failed permanently|all relevant MX records point to non-existent hosts|"
        r"Unrouteable address", re.I)),
    ("mailboxfull", re.compile(r"mailbox is full|error: quota exceed", re.I)),
    ("notaccept", re.compile(
        r"an MX or SRV record indicated no SMTP service|no host found for existing SMTP connection", re.I)),
    ("syntaxerror", re.compile(
        r"angle-brackets nested too deep|expected word or \"<\"|domain missing in source-routed address|"
        r"malformed address:", re.I)),
    ("systemerror", re.compile(
        r"delivery to file forbidden|delivery to pipe forbidden|local delivery failed|LMTP error after ", re.I)),
    ("contenterror", re.compile(r"Too many \"Received\" headers", re.I)),
)  # fmt: skip
_DELAYED = re.compile(
    r"retry timeout exceeded|No action is required on your part|retry time not reached for any host after a "
    r"long failure period|all hosts have been failing for a long time and were last tried|Delay reason: |"
    r"has been frozen|was frozen on arrival by ",
    re.I,
)
_WARNING = re.compile(r"has not yet been delivered|^Warning: message \S+ delayed", re.I | re.M)


def sniff(mail: Mail) -> bool:
    score = 0
    if mail.header("from").startswith("Mail Delivery System"):
        score += 1
    if _EXIM_ID.match(mail.header("message-id")):
        score += 1
    if _SUBJECT.search(mail.header("subject")):
        score += 1
    if "(Exim " in mail.header("received") or "with local (Exim" in mail.body:
        score += 1
    return score >= 2 and "mail.ru" not in mail.header("from")


@register("Exim", 20, sniff)
def parse(mail: Mail) -> AgentResult | None:
    report, _ = split_original(mail.body)
    m = _START.search(report)
    if not m:
        return None
    delay = bool(_WARNING.search(report[: m.end() + 400]) or _WARNING.search(mail.header("subject")))
    recipients: list[RawRecipient] = []
    lines: list[str] = []
    current: RawRecipient | None = None

    def close() -> None:
        if current is not None:
            current.diagnostic = squeeze(" ".join(lines))

    for line in report[m.start() :].split("\n"):
        if line.startswith("Content-Type:") or line.startswith("Reporting-MTA:"):
            break
        rm = _RCPT.match(line) or (_BARE.match(line) if mail.header("x-failed-recipients") else None)
        tm = None if rm else _TARGET.match(line)
        if (rm or tm) and not line.startswith("   "):
            close()
            if rm:
                addr = rm.group(1)
                current = RawRecipient(address=clean_address(addr) if "@" in addr else addr.strip())
                lines = [rm.group(2)] if rm.re.groups >= 2 and rm.group(2) else []
            else:
                # a pipe or file target: the address is the one it was generated by
                target = (tm.group(1) if tm else "").strip()
                current = RawRecipient(address="", remote_mta="", original_recipient="")
                current.target = target
                lines = [target]
            recipients.append(current)
            continue
        if current is None:
            continue
        if not line.strip():
            continue
        if line[:1] in (" ", "\t"):
            g = _GENERATED.match(line)
            if g:
                if current.address:
                    current.original_recipient = g.group(1)
                else:
                    current.address = clean_address(g.group(1))
                continue
            lines.append(line.strip())
        else:
            close()
            current = None
            lines = []
    close()
    recipients = [r for r in recipients if r.address]
    if not recipients:
        return None
    # a bare local part ("  kijitora", "save to ..." generated by "xxxx"): X-Failed-Recipients has it in full
    failed = [clean_address(a) for a in find_addresses(mail.header("x-failed-recipients"))]
    for r in recipients:
        if "@" in r.address:
            continue
        same = [a for a in failed if a.split("@")[0].lower() == r.address.lower()]
        if same:
            r.address = same[0]
        elif len(failed) == 1 and len(recipients) == 1:
            r.address = failed[0]
    # "The following text was generated during the delivery attempt": per-target text
    for gm in _GENERATED_TEXT.finditer(report):
        who = (gm.group(2) or gm.group(1)).strip()
        for r in recipients:
            if who in (r.address, r.target) or gm.group(1).strip() == r.target:
                r.diagnostic = squeeze(r.diagnostic + " " + gm.group(3))
    dsn = parse_dsn(mail.body)
    by_addr = {r.address.lower(): r for r in dsn.recipients}
    for r in recipients:
        d = by_addr.get(r.address.lower())
        if d is not None:
            r.status = d.status
            r.action = d.action
            r.remote_mta = d.remote_mta
            if not r.diagnostic:
                r.diagnostic = d.diagnostic
            r.diagnostic_type = d.diagnostic_type
        cm = _COMMAND.search(r.diagnostic)
        if cm:
            r.command = cm.group(1).upper()
        elif r.diagnostic and not _TRANSPORT.search(r.diagnostic):
            r.command = "RCPT"  # refused by a router (:fail:, unrouteable): the RCPT-time equivalent
        hm = _HOST.search(r.diagnostic)
        if hm and not r.remote_mta:
            r.remote_mta = hm.group(1)
        if delay or _DELAYED.search(r.diagnostic):
            r.reason, r.rule, r.rule_text = "expired", "exim.delayed", (_DELAYED.search(r.diagnostic) or m).group(0)
            if delay:
                r.action = "delayed"
            continue
        for reason, pat in _MESSAGES:
            mm = pat.search(r.diagnostic)
            if mm:
                r.reason, r.rule, r.rule_text = reason, f"exim.{reason}", mm.group(0)
                break
        if not r.action:
            r.action = "failed"
    return AgentResult(
        recipients=recipients,
        kind="delay" if delay else "failure",
        reporting_mta=dsn.message_fields.get("reporting-mta", ""),
    )
