"""Yahoo! Mail: 'Sorry, we were unable to deliver your message to the following address.'"""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    return "Sorry, we were unable to deliver your message to the following address" in mail.body


@register("Yahoo", 36, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
