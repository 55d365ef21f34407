"""AOL's own notices: the recipients are bare screen names (name@aol.com)."""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import split_original, squeeze

_LIST = re.compile(r"following recipients could not be delivered[^\n]*\n((?:[ \t]+\S+\n?)+)", re.I)


def sniff(mail: Mail) -> bool:
    return "@aol.com" in mail.header("from").lower()


@register("AOL", 45, sniff)
def parse(mail: Mail) -> AgentResult | None:
    report = split_original(mail.body)[0]
    m = _LIST.search(report)
    if not m:
        return None
    reason_text = squeeze(report[: m.start(1)])
    out = []
    for name in m.group(1).split():
        addr = name if "@" in name else f"{name}@aol.com"
        out.append(RawRecipient(address=addr.lower(), diagnostic=reason_text[-400:], action="failed"))
    return AgentResult(out, kind="failure") if out else None
