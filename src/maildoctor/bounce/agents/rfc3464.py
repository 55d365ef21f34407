"""RFC 3464 delivery status notifications from any MTA (Postfix, Sendmail, Exchange, ...).

Tried after the agents that know a vendor's quirks. Where the Diagnostic-Code is missing, the
readable part's text near the address stands in for it.
"""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.dsn import parse_dsn
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.text import split_original, squeeze

_DELAY_SUBJECT = re.compile(r"\b(?:delayed|delay|warning|not yet been delivered|verz[oö]gert)\b", re.I)


def sniff(mail: Mail) -> bool:
    return "Final-Recipient" in mail.body or "final-recipient" in mail.body.lower()


def readable_near(report: str, address: str, limit: int = 600) -> str:
    """The readable text that follows an address in the human part (a stand-in diagnostic)."""
    pos = report.lower().find(address.lower())
    if pos < 0:
        return ""
    after = report[pos + len(address) : pos + len(address) + limit]
    para = re.split(r"\n\s*\n", after.lstrip(">: \t"), maxsplit=1)[0]
    return squeeze(para)


@register("RFC3464", 90, sniff)
def parse(mail: Mail) -> AgentResult | None:
    dsn = parse_dsn(mail.body)
    if not dsn.recipients:
        return None
    report = split_original(mail.body)[0]
    human = report.split("Final-Recipient", 1)[0]
    for r in dsn.recipients:
        if not r.diagnostic:
            r.diagnostic = readable_near(human, r.address)
    actions = {r.action for r in dsn.recipients}
    kind = "delay" if actions == {"delayed"} else ""
    if not kind and actions <= {"delivered", "relayed", "expanded"}:
        kind = "not_bounce"
    return AgentResult(dsn.recipients, kind=kind, reporting_mta=dsn.message_fields.get("reporting-mta", ""))
