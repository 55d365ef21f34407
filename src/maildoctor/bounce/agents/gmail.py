"""Gmail's own notices (before Google sent RFC 3464 DSNs).

'Delivery to the following recipient failed permanently', 'Technical details of permanent
failure'; the '(state N)' codes are mapped in kb/bounce_messages.toml.
"""

from __future__ import annotations

from maildoctor.bounce.agents import AgentResult, generic, register, rfc3464
from maildoctor.bounce.mime import Mail

_MARKERS = ("Technical details of permanent failure", "Technical details of temporary failure",
            "Delivery to the following recipient")  # fmt: skip


def sniff(mail: Mail) -> bool:
    return any(m in mail.body for m in _MARKERS)


@register("Gmail", 35, sniff)
def parse(mail: Mail) -> AgentResult | None:
    return rfc3464.parse(mail) or generic.parse(mail)
