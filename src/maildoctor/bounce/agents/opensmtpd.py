"""OpenSMTPD: 'Hi! This is the MAILER-DAEMON, please DO NOT REPLY to this email.'"""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    return "This is the MAILER-DAEMON, please DO NOT REPLY" in mail.body or "OpenSMTPD" in mail.header("received")


@register("OpenSMTPD", 39, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
