"""Courier MTA: 'This is a delivery status notification from HOST, running the Courier mail server'."""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    return "running the Courier mail server" in mail.body[:3000] or "Courier mail server" in mail.header("from")


@register("Courier", 58, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
