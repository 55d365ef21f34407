"""ARF (RFC 5965) abuse feedback reports: recognised as feedback, not as a failure."""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address, find_addresses, header_fields

_FEEDBACK_TYPE = re.compile(r"^Feedback-Type:\s*([\w-]+)", re.I | re.M)
_RCPT_TO = re.compile(r"^(?:Original-Rcpt-To|Removal-Recipient):\s*(.+)$", re.I | re.M)


_HOTMAIL = re.compile(r"^complaint about message from ", re.I)
_HM_RCPT = re.compile(r"^X-HmXmrOriginalRecipient:\s*(\S+)", re.I | re.M)


def sniff(mail: Mail) -> bool:
    if _HOTMAIL.match(mail.header("subject").strip()) or "Apple Mail sent this email to unsubscribe" in mail.body:
        return True
    return (
        mail.report_type.lower() == "feedback-report"
        or "message/feedback-report" in mail.part_types
        or (bool(_FEEDBACK_TYPE.search(mail.body)) and "Final-Recipient" not in mail.body)
    )


@register("ARF", 1, sniff)
def parse(mail: Mail) -> AgentResult | None:
    ftm = _FEEDBACK_TYPE.search(mail.body)
    ftype = ftm.group(1).lower() if ftm else "abuse"
    if "Apple Mail sent this email to unsubscribe" in mail.body:
        # an unsubscribe request: the complaining recipient is the one who sends it
        addrs = [clean_address(a) for a in find_addresses(mail.header("from"))[:1]]
        out = [RawRecipient(address=a, reason="feedback", rule="arf.apple-unsubscribe", rule_text="unsubscribe",
                            feedback_type="opt-out") for a in addrs]  # fmt: skip
        return AgentResult(out, kind="feedback") if out else None
    addrs = [clean_address(m.group(1)) for m in _RCPT_TO.finditer(mail.body)]
    if not addrs:
        addrs = [clean_address(m.group(1)) for m in _HM_RCPT.finditer(mail.body + "\n" + mail.original)]
    if not addrs:
        orig = header_fields(mail.original, ("to",)) if mail.original else {}
        addrs = find_addresses(orig.get("to", ""))[:1]
    if not addrs:
        addrs = [""]  # the report names no recipient
    recipients = []
    for a in addrs:
        r = RawRecipient(address=a, reason="feedback", rule="arf.feedback-type", rule_text=ftype, feedback_type=ftype)
        recipients.append(r)
    return AgentResult(recipients, kind="feedback")
