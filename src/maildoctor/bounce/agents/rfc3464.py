"""RFC 3464 delivery status notifications from any MTA (Postfix, Sendmail, Exchange, ...).

Tried after the agents that know a vendor's quirks. Where the Diagnostic-Code is missing, the
readable part's text near the address stands in for it.
"""

from __future__ import annotations

import re

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.dsn import parse_dsn
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.text import clean_address, find_command, split_original, squeeze

_DELAY_SUBJECT = re.compile(r"\b(?:delayed|delay|warning|not yet been delivered|verz[oö]gert)\b", re.I)


def sniff(mail: Mail) -> bool:
    return "Final-Recipient" in mail.body or "final-recipient" in mail.body.lower()


def readable_near(report: str, address: str, limit: int = 600) -> str:
    """The readable text that follows an address in the human part (a stand-in diagnostic)."""
    pos = report.lower().find(address.lower())
    if pos < 0:
        return ""
    after = report[pos + len(address) : pos + len(address) + limit]
    para = re.split(r"\n\s*\n", after.lstrip(">: \t"), maxsplit=1)[0]
    return squeeze(para)


_BLOCK_START = re.compile(r"^<?([^\s<>@]+@[^\s<>]+?)>?(?: \(expanded from <[^>]*>\))?(?::|\.\.\.)\s*(.*)$")
_TRANSCRIPT_CMD = re.compile(r"^>>> ([A-Za-z]{4})", re.M)
_TRANSCRIPT_REPLY = re.compile(r"^<<< ([45]\d\d[ -].*(?:\n<<< .*)*)", re.M)


def address_blocks(report: str) -> dict[str, str]:
    """Postfix-style blocks: '<addr>: text' and its indented continuation lines, per address."""
    out: dict[str, str] = {}
    key = ""
    parts: list[str] = []
    for line in report.split("\n"):
        m = _BLOCK_START.match(line)
        if m and key and clean_address(m.group(1)).lower() == key:
            parts.append(line.strip())
        elif m:
            if key:
                out.setdefault(key, squeeze(" ".join(parts)))
            key = clean_address(m.group(1)).lower()
            parts = [m.group(2)]
        elif key and line[:1] in (" ", "\t") and line.strip():
            parts.append(line.strip())
        elif key:
            out.setdefault(key, squeeze(" ".join(parts)))
            key, parts = "", []
    if key:
        out.setdefault(key, squeeze(" ".join(parts)))
    return out


def transcript(report: str) -> tuple[str, str]:
    """Sendmail-style session transcript: (last command sent before the error, the error reply)."""
    reply = _TRANSCRIPT_REPLY.search(report)
    if not reply:
        return "", ""
    cmds = _TRANSCRIPT_CMD.findall(report[: reply.start()])
    return (cmds[-1].upper() if cmds else ""), squeeze(reply.group(1).replace("<<< ", " "))


_TRANSCRIPT = re.compile(r"-+ Transcript of session follows -+\n(.*)", re.S)


def _transcript_text(human: str) -> str:
    m = _TRANSCRIPT.search(human)
    return squeeze(m.group(1))[:600] if m else ""


@register("RFC3464", 90, sniff)
def parse(mail: Mail) -> AgentResult | None:
    dsn = parse_dsn(mail.body)
    if not dsn.recipients:
        return None
    report = split_original(mail.body)[0]
    human = report.split("Final-Recipient", 1)[0]
    blocks = address_blocks(human)
    t_cmd, t_reply = transcript(human)
    for r in dsn.recipients:
        block = blocks.get(r.address.lower(), "")
        if not r.diagnostic:
            r.diagnostic = block or t_reply or _transcript_text(human) or readable_near(human, r.address)
        elif block and len(block) > len(r.diagnostic) and r.diagnostic[-40:] in block:
            # Postfix: the readable text ends with "(in reply to RCPT TO command)"
            r.diagnostic = block[block.find(r.diagnostic[:20]) :] if r.diagnostic[:20] in block else r.diagnostic
        elif t_reply and len(t_reply) > len(r.diagnostic) and t_reply[:3] == r.diagnostic[:3]:
            r.diagnostic = t_reply  # the transcript keeps every line of a multi-line reply
        r.command = find_command(r.diagnostic) or find_command(block) or t_cmd
    actions = {r.action for r in dsn.recipients}
    kind = "delay" if actions == {"delayed"} else ""
    if not kind and actions <= {"delivered", "relayed", "expanded"}:
        kind = "not_bounce"
    return AgentResult(dsn.recipients, kind=kind, reporting_mta=dsn.message_fields.get("reporting-mta", ""))
