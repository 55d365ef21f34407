"""RFC 3834 automatic responses (vacation, out-of-office): recognised as not-a-failure."""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.reason import match_phrase
from maildoctor.bounce.text import find_addresses, squeeze

_SUBJECT = re.compile(
    r"^(?:auto(?:matic)?[ -]?(?:reply|response|antwort)|auto:|out of (?:the )?office|away until|"
    r"vacation|abwesenheit|r[ée]ponse automatique|自動(?:応答|返信))",
    re.I,
)
_GONE = re.compile(r"(?:inbox|address|mailbox|account) \S+ is no longer (?:in use|monitored|active)", re.I)
_DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery", re.I)


def sniff(mail: Mail) -> bool:
    if _DAEMON.search(mail.header("from")):
        return False
    auto = mail.header("auto-submitted").lower()
    if auto.startswith("auto-replied") or auto.startswith("auto-generated"):
        return True
    if mail.header("x-autoreply") or mail.header("x-autorespond") or mail.header("x-auto-response-suppress"):
        return True
    if mail.header("precedence").lower() == "auto_reply":
        return True
    return bool(_SUBJECT.search(mail.header("subject")))


@register("RFC3834", 95, sniff)
def parse(mail: Mail) -> AgentResult | None:
    if "Final-Recipient" in mail.body:
        return None
    addrs = find_addresses(mail.header("from"))
    if not addrs:
        return None
    text = squeeze(mail.body[:2000])
    r = RawRecipient(address=addrs[0], action="", diagnostic=text[:500])
    span = match_phrase("suspend", text.lower())
    gone = _GONE.search(text)
    if span:
        r.reason, r.rule, r.rule_text = "suspend", "reason.suspend", text[span[0] : span[1]]
    elif gone:
        r.reason, r.rule, r.rule_text = "suspend", "rfc3834.no-longer-in-use", gone.group(0)
    else:
        r.reason, r.rule, r.rule_text = "vacation", "rfc3834.auto-submitted", mail.header("subject")[:80]
    return AgentResult([r], kind="autoreply")
