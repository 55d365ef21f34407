"""Postfix: 'Undelivered Mail Returned to Sender', a DSN plus per-address text blocks.

The readable part has '<addr>: host X[ip] said: 550 ... (in reply to RCPT TO command)', which
names the SMTP command the DSN leaves out. Old Postfix sends the text part only.
"""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    return "This is the mail system at host" in mail.body or "X-Postfix-" in mail.body or (
        "Postfix" in mail.header("from") or "postfix" in mail.header("x-mailer").lower()
    )


@register("Postfix", 50, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
