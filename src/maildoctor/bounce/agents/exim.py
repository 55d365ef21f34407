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
from maildoctor.bounce.text import clean_address, split_original, squeeze

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
_COMMAND = re.compile(r"(?:SMTP|LMTP) error (?:from remote (?:mail server|mailer) )?after (?:end of )?([A-Za-z]{4})")
_HOST = re.compile(r"\bhost\s+(\S+)\s+\[([0-9a-fA-F.:]+)\]")
_MESSAGES: tuple[tuple[str, re.Pattern[str]], ...] = (
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
    ("mailererror", re.compile(r"Child process of \S+ transport returned \d+", re.I)),
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
        rm = _RCPT.match(line)
        if rm and not line.startswith("   "):
            close()
            addr = rm.group(1)
            current = RawRecipient(address=clean_address(addr) if "@" in addr else addr.strip())
            recipients.append(current)
            lines = [rm.group(2)] if rm.group(2) else []
            continue
        if current is None:
            continue
        if not line.strip():
            continue
        if line[:1] in (" ", "\t"):
            g = _GENERATED.match(line)
            if g:
                current.original_recipient = g.group(1)
                continue
            lines.append(line.strip())
        else:
            close()
            current = None
            lines = []
    close()
    if not recipients:
        return None
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
