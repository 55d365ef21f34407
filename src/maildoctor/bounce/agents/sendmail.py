"""Sendmail: 'Returned mail: ...', a DSN plus the session transcript (>>> command, <<< reply)."""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail


def sniff(mail: Mail) -> bool:
    return (
        "----- Transcript of session follows -----" in mail.body
        or "----- The following addresses had permanent fatal errors -----" in mail.body
    ) and "qmail" not in mail.body[:300]


@register("Sendmail", 55, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
