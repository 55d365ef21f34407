"""DragonFly Mail Agent (dma): 'There was an error delivering your mail to <addr>.'"""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address, find_command, squeeze

_START = re.compile(r"^There was an error delivering your mail to <([^>]+)>\.\s*$", re.M)
_END = re.compile(r"^Message headers follow\.|^Original message follows\.", re.M)


def sniff(mail: Mail) -> bool:
    return "DragonFly Mail Agent" in mail.body[:2000]


@register("DragonFly", 25, sniff)
def parse(mail: Mail) -> AgentResult | None:
    m = _START.search(mail.body)
    if not m:
        return None
    end = _END.search(mail.body, m.end())
    text = squeeze(mail.body[m.end() : end.start() if end else m.end() + 1500])
    r = RawRecipient(address=clean_address(m.group(1)), diagnostic=text, action="failed")
    if "did not like our " in text:
        r.command = find_command(text.replace("did not like our", "in reply to")) or r.command
    return AgentResult([r], kind="failure")
