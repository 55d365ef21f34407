"""Gmail, Google Workspace and Google Groups notices that list the failed address in X-Failed-Recipients."""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address, find_addresses, find_status, split_original, squeeze

_GOOGLE_FROM = re.compile(r"mailer-daemon@(?:googlemail|google)\.com", re.I)
_GROUPS = re.compile(r"Google (?:Groups|グループ)|googlegroups\.com|groups\.google\.com", re.I)
_START = re.compile(r"\*\* (?:Message not delivered|Address not found|Message blocked) \*\*|The response was:", re.I)


def sniff(mail: Mail) -> bool:
    return bool(_GOOGLE_FROM.search(mail.header("from")) and mail.header("x-failed-recipients"))


@register("GoogleGroups", 30, sniff)
def parse(mail: Mail) -> AgentResult | None:
    if "Final-Recipient" in mail.body or "Technical details of " in mail.body:
        return None
    addrs = [clean_address(a) for a in find_addresses(mail.header("x-failed-recipients"))]
    if not addrs:
        return None
    report = split_original(mail.body)[0]
    m = _START.search(report)
    text = squeeze(report[m.start() :] if m else report)[:1200]
    groups = bool(_GROUPS.search(report)) or any(a.lower().endswith("@googlegroups.com") for a in addrs)
    out = []
    for a in addrs:
        r = RawRecipient(address=a, diagnostic=text, status=find_status(text), action="failed")
        if groups:
            # The group does not exist or the sender may not post to it.
            r.reason, r.rule, r.rule_text = "rejected", "googlegroups.cannot-post", "Google Groups"
        out.append(r)
    return AgentResult(out, kind="failure")
