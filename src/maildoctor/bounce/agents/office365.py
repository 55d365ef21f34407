"""Microsoft 365 / Exchange Online and Outlook.com: 'Undeliverable:' with a DSN.

The status codes have Microsoft meanings (5.1.10 RecipientNotFound, 5.4.316 expired, 5.7.50x
spam, ...): kb/bounce_messages.toml maps them.
"""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    received = mail.header("received").lower()
    return (
        "protection.outlook.com" in received
        or "prod.outlook.com" in received
        or mail.header("x-ms-exchange-message-is-ndr") != ""
        or "Diagnostic information for administrators" in mail.body
    )


@register("Office365", 52, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
