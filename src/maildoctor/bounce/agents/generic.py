"""Last resort for a plain-text bounce from an agent no module knows: addresses and the text by them."""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address, find_addresses, find_status, split_original, squeeze

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|failure|failed|notification|problem)|returned mail|mail delivery|"
    r"failure notice|could not (?:be )?deliver|non[- ]?delivery|rejected|bounce|NDN|mail system error|"
    r"nicht zustellbar|permanent error|unzustellbar|delivery report|error|failed",
    re.I,
)
_DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery|MAILER_DAEMON|Mail Administrator|daemon", re.I)


def sniff(mail: Mail) -> bool:
    return bool(_DAEMON.search(mail.header("from")) or _BOUNCE_SUBJECT.search(mail.header("subject")))


@register("Generic", 99, sniff)
def parse(mail: Mail) -> AgentResult | None:
    report, _ = split_original(mail.body)
    own = {a.lower() for a in find_addresses(mail.header("from") + " " + mail.header("to"))}
    found: dict[str, RawRecipient] = {}
    paras = re.split(r"\n\s*\n", report)
    for i, para in enumerate(paras):
        for a in find_addresses(para):
            addr = clean_address(a)
            key = addr.lower()
            if key in own or key in found or _DAEMON.search(addr.split("@")[0]):
                continue
            text = squeeze(para)
            if len(text) < 80 and i + 1 < len(paras):
                text = squeeze(text + " " + paras[i + 1])
            found[key] = RawRecipient(address=addr, diagnostic=text[:1000], status=find_status(text))
    if not found:
        return None
    return AgentResult(list(found.values()))
