"""Mimecast: 'a delivery failure notification message indicating that an email you addressed to ...'.

Its DSN fields come before Final-Recipient and use 'Name : value'; the DSN reader copes.
"""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    where = (mail.header("from") + mail.header("received")).lower()
    return "mimecast" in where or "delivery failure notification message indicating" in mail.body


@register("Mimecast", 38, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
