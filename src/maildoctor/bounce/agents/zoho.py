"""Zoho Mail: 'Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 ...' after each recipient."""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    return "zoho" in mail.header("from").lower() or "ERROR_CODE :" in mail.body


@register("Zoho", 37, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
