"""qmail (and netqmail, vpopmail): 'Hi. This is the qmail-send program at HOST.'

'<addr>:' starts each recipient; the lines below are its diagnostic. The phrases qmail uses
('does not like recipient', 'I'm not going to try again') are in kb/bounce_messages.toml.
"""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    return "This is the qmail-send program" in mail.body or "qmail-send" in mail.body[:2000]


@register("qmail", 60, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return generic.parse(mail)
