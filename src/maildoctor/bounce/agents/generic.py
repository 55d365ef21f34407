"""Last resort for a plain-text bounce from an agent no module knows: addresses and the text by them.

A recipient starts on a line that begins with an address (qmail's '<addr>:', Postfix's
'<addr>: text', Gmail's indented address, '* addr' lists); its diagnostic is the text up to
the next such line, so each recipient of a multi-recipient bounce keeps its own text.
"""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient
from maildoctor.bounce.text import clean_address, find_addresses, find_status, split_original, squeeze

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status|failure|failed|notification|problem)|returned mail|mail delivery|"
    r"failure notice|could not (?:be )?deliver|non[- ]?delivery|rejected|bounce|NDN|mail system error|"
    r"nicht zustellbar|permanent error|unzustellbar|delivery report|error|failed|returned|fehler|"
    r"エラー|不達|配信",
    re.I,
)
_DAEMON = re.compile(r"mailer-daemon|post_?master|mail delivery|MAILER_DAEMON|Mail Administrator|daemon|"
                     r"no-?reply|mail ?system", re.I)  # fmt: skip
_START = re.compile(
    r"^[ \t]*(?:[*\-]+[ \t]*|>>>\s*)?(?:\"|<|\[|Address:\s*<?|Could not be delivered to:\s*<?|RCPT TO:\s*<?|"
    r"target mail address:\s*<?)?"
    r"([\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])[\">\]]?(?:[ \t]*(?::|\.\.\.|$|\s)(.*))?$",
    re.M,
)
_MAX_DIAG = 1200
_EXPANDED = re.compile(r"\(expanded from:? <?([^\s<>()]+@[^\s<>()]+?)>?\)", re.I)
_SENTENCE = re.compile(
    r"(?:message,? addressed to|The address to\s+which your message was addressed,)\s+'?<?"
    r"([^\s'<>,]+@[^\s'<>,]+?)>?'?,\s+(?:failed|did not)",
    re.I,
)
_REPLY = re.compile(r"(?<![\d.])[245]\d\d(?:[ -][245]\.\d|\s+[<\"A-Za-z])|\b[245]\.\d{1,3}\.\d{1,3}\b")
_DELAYED = re.compile(
    r"THIS IS A WARNING MESSAGE ONLY|has been delayed|has not (?:yet )?been delivered|will be retried|"
    r"will (?:continue to )?(?:re)?try (?:to deliver|delivering)|Delivery attempts will continue",
    re.I,
)


def sniff(mail: Mail) -> bool:
    return bool(
        _DAEMON.search(mail.header("from"))
        or _BOUNCE_SUBJECT.search(mail.header("subject"))
        or mail.report_type.lower() == "delivery-status"
    )


@register("Generic", 99, sniff)
def parse(mail: Mail) -> AgentResult | None:
    report, _ = split_original(mail.body)
    own = {a.lower() for a in find_addresses(mail.header("from") + " " + mail.header("to"))}
    daemon = {a.lower() for a in find_addresses(mail.header("from"))}
    starts = []
    for m in _START.finditer(report):
        addr = clean_address(m.group(1))
        # an address that starts a line is a recipient even when it is also the bounce's To
        if addr.lower() in daemon or _DAEMON.search(addr.split("@")[0]):
            continue
        starts.append((m.start(), m.end(), addr, m.group(2) or ""))
    found: dict[str, RawRecipient] = {}
    for i, (begin, end, addr, rest) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else len(report)
        text = squeeze(rest + " " + report[end : min(stop, end + _MAX_DIAG)])
        if i == 0 and len(starts) == 1:
            # "reject reason: ..." written just above the address, in the same paragraph
            above = report[max(0, begin - 300) : begin].rstrip("\n")
            lead = above.rsplit("\n\n", 1)[-1].split("\n")[-2:]
            if lead and all(ln.strip() for ln in lead):
                text = squeeze(" ".join(lead) + " " + text)
        key = addr.lower()
        if key in found:
            if text and text not in found[key].diagnostic:
                found[key].diagnostic = squeeze(found[key].diagnostic + " " + text)[:_MAX_DIAG]
            continue
        found[key] = RawRecipient(address=addr, diagnostic=text, status=find_status(text))
        em = _EXPANDED.search(text)
        if em:
            found[key].original_recipient = clean_address(em.group(1))
    if not found:
        # A sentence that names the failed address ("addressed to 'x@y', failed because ...")
        for sm in _SENTENCE.finditer(report):
            addr = clean_address(sm.group(1))
            if addr.lower() not in found:
                tail = report[sm.end() : sm.end() + _MAX_DIAG]
                found[addr.lower()] = RawRecipient(address=addr, diagnostic=squeeze(sm.group(0) + tail))
    if not found:
        # No address at a line start: any address in the report, with its paragraph.
        for para in re.split(r"\n\s*\n", report):
            for a in find_addresses(para):
                addr = clean_address(a)
                if addr.lower() in own or addr.lower() in found or _DAEMON.search(addr.split("@")[0]):
                    continue
                text = squeeze(para)[:_MAX_DIAG]
                found[addr.lower()] = RawRecipient(address=addr, diagnostic=text, status=find_status(text))
    if not found:
        return None
    if len(found) == 1:
        (only,) = found.values()
        if not _REPLY.search(only.diagnostic):
            # the error text sits elsewhere in the report (above the address, in a summary)
            only.diagnostic = squeeze(report)[:_MAX_DIAG]
            only.status = only.status or find_status(only.diagnostic)
    if _DELAYED.search(report[:3000]):
        for r in found.values():
            r.action = "delayed"
        return AgentResult(list(found.values()), kind="delay")
    return AgentResult(list(found.values()))
