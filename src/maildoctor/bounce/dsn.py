"""RFC 3464 delivery-status fields, found wherever they are in the flattened text.

Works on a proper message/delivery-status part and on the many MTAs that paste the same
fields into plain text. Per-recipient blocks start at Final-Recipient (or Original-Recipient).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address

_FIELD = re.compile(
    r"^(Final-Recipient|Original-Recipient|X-Actual-Recipient|Action|Status|Remote-MTA|Diagnostic-Code|"
    r"Last-Attempt-Date|Will-Retry-Until|Reporting-MTA|Received-From-MTA|Arrival-Date|X-Postfix-Sender|"
    r"Original-Envelope-Id|Feedback-Type|User-Agent|Version|Original-Mail-From|Original-Rcpt-To|"
    r"Source-Ip|Reported-Domain|Arrival-date|X-Display-Name)[ \t]*:[ \t]*(.*)$",
    re.I | re.M,
)


_USABLE = re.compile(r"[^@\s:;/]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@dataclass(slots=True)
class DsnReport:
    message_fields: dict[str, str] = field(default_factory=dict)
    recipients: list[RawRecipient] = field(default_factory=list)


def _typed_value(value: str) -> tuple[str, str]:
    """'rfc822; user@example' -> ('RFC822', 'user@example')."""
    if ";" in value:
        kind, _, rest = value.partition(";")
        if kind.strip() and " " not in kind.strip():
            return kind.strip().upper(), rest.strip()
    return "", value.strip()


def parse_dsn(text: str) -> DsnReport:
    """Every RFC 3464 field block in text, per message and per recipient."""
    report = DsnReport()
    if "ecipient" not in text and "iagnostic" not in text and "Action" not in text:
        return report
    lines = text.split("\n")
    current: RawRecipient | None = None
    last_key = ""
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        m = _FIELD.match(line)
        if not m:
            if line[:1] in (" ", "\t") and last_key == "diagnostic-code" and current is not None and line.strip():
                current.diagnostic += " " + line.strip()
            elif line[:1] in (" ", "\t") and last_key:
                pass
            else:
                last_key = ""
            i += 1
            continue
        key = m.group(1).lower()
        value = m.group(2).strip()
        last_key = key
        i += 1
        if key in ("final-recipient", "original-recipient", "x-actual-recipient"):
            _, addr = _typed_value(value)
            addr = clean_address(addr)
            if key == "final-recipient":
                if current is None or current.address:
                    current = RawRecipient(address="")
                    report.recipients.append(current)
                current.address = addr
            elif key == "original-recipient":
                if current is None or current.original_recipient or (current.address and current.action):
                    current = RawRecipient(address="")
                    report.recipients.append(current)
                current.original_recipient = addr
            continue
        if current is None or key in ("reporting-mta", "received-from-mta", "arrival-date", "original-envelope-id"):
            report.message_fields.setdefault(key, value)
            if current is None:
                continue
        if key == "action":
            current.action = current.action or value.lower().split()[0] if value else current.action
        elif key == "status":
            current.status = current.status or value.split()[0] if value else current.status
        elif key == "remote-mta":
            current.remote_mta = current.remote_mta or _typed_value(value)[1]
        elif key == "diagnostic-code":
            dtype, diag = _typed_value(value)
            if not current.diagnostic:
                current.diagnostic_type = dtype
                current.diagnostic = diag
            last_key = "diagnostic-code" if current.diagnostic == diag else ""
        elif key == "last-attempt-date":
            current.last_attempt = value
        elif key == "feedback-type":
            current.feedback_type = value
    if len(report.recipients) == 1:
        # some agents (Mimecast) write the per-recipient fields before Final-Recipient
        r, mf = report.recipients[0], report.message_fields
        r.action = r.action or mf.get("action", "").lower().split(" ")[0]
        r.status = r.status or mf.get("status", "").split(" ")[0]
        if not r.diagnostic and mf.get("diagnostic-code"):
            r.diagnostic_type, r.diagnostic = _typed_value(mf["diagnostic-code"])
    for r in report.recipients:
        if not r.address or (not _USABLE.fullmatch(r.address) and _USABLE.fullmatch(r.original_recipient)):
            # Final-Recipient missing, an X.400 form or a source route: the original one is the address
            r.address = r.original_recipient
    report.recipients = [r for r in report.recipients if r.address]
    return report
