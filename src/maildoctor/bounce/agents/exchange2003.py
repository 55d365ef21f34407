"""Microsoft Exchange 2000/2003 non-delivery reports: 'did not reach the following recipient(s):'.

Each recipient line is 'ADDRESS on DATE' (or an X.400 form with 'SMTP=address'), followed by
indented text with the reason and the MSEXCH:IMS code, e.g. '(000C05A6) Unknown Recipient'.
"""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address, find_addresses, split_original, squeeze

_START = re.compile(r"did not reach the following recipient\(s\):\s*\n", re.I)
_RCPT = re.compile(r"^(?:\S*SMTP=)?([^\s;<>]+@[^\s;<>]+?)(?:;)?\s+on\s+", re.I)


def sniff(mail: Mail) -> bool:
    return "did not reach the following recipient" in mail.body


@register("Exchange2003", 40, sniff)
def parse(mail: Mail) -> AgentResult | None:
    report = split_original(mail.body)[0]
    m = _START.search(report)
    if not m:
        return None
    recipients: list[RawRecipient] = []
    lines: list[str] = []
    current: RawRecipient | None = None
    for line in report[m.end() :].split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if not line[:1].isspace():
            found = _RCPT.match(stripped) or None
            addrs = [found.group(1)] if found else find_addresses(stripped)[:1]
            if addrs:
                if current is not None:
                    current.diagnostic = squeeze(" ".join(lines))
                addr = re.sub(r"(?i)^.*?\bSMTP=", "", clean_address(addrs[0]))
                current = RawRecipient(address=addr.lower(), action="failed")
                recipients.append(current)
                lines = []
                continue
            if current is not None and lines:
                break  # the end of the list
        if current is not None:
            lines.append(stripped)
    if current is not None:
        current.diagnostic = squeeze(" ".join(lines))
    return AgentResult(recipients, kind="failure") if recipients else None
