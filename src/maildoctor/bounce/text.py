"""Small pure helpers over bounce text: addresses, status codes, reply codes, SMTP commands."""

from __future__ import annotations

import re

_ADDR = re.compile(
    r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?)*",
    re.ASCII,
)
_ANGLE = re.compile(r"<([^<>\s@]+@[^<>\s]+)>")
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_REPLY = re.compile(r"(?<![\d.-])([245][0-5]\d)(?=[\s-]|$)")
_COMMANDS = (
    ("DATA", re.compile(r"-{3,}SMTP command DATA\b")),
    ("STARTTLS", re.compile(r"\bSTARTTLS\b", re.I)),
    ("EHLO", re.compile(r"\b(?:in reply to|after)\s+(?:EHLO|HELO)\b|\bHELO command\b", re.I)),
    ("MAIL", re.compile(r"\b(?:in reply to|after|from)\s+MAIL(?:\s+FROM)?\b|\bMAIL FROM\b", re.I)),
    ("RCPT", re.compile(r"\b(?:in reply to|after)\s+RCPT(?:\s+TO)?\b|\bRCPT TO\b|\bSMTP:RCPT\b|\[RCPT_TO\]", re.I)),
    ("DATA", re.compile(
        r"\b(?:in reply to|after)\s+(?:end of\s+)?(?:DATA|data)\b|\bend of data\b|\bDATA command\b", re.I)),
    ("CONN", re.compile(
        r"\bafter initial connection\b|\bin reply to (?:the )?initial greeting\b|\bwhile connected\b", re.I)),
    ("AUTH", re.compile(r"\b(?:in reply to|after)\s+AUTH\b", re.I)),
)  # fmt: skip
# Where a non-MIME bounce returns the original message (first match wins).
_ORIGINAL_MARKERS = re.compile(
    r"^(?:-+ ?This is a copy of the message|-+ ?The header of the original message is following|"
    r"-+ ?Original message follows|-+ ?Undelivered message headers follow|"
    r"--- Below this line is a copy of the message\.|-+ ?Returned message -+|"
    r"-+ ?Original message -+|-+ ?Original Message -+|-+ ?Headers of the original message|"
    r"Content-Type: message/rfc822|Content-Type: text/rfc822-headers|"
    r"-+ ?Unsent Message below|-+ ?Message Headers -+|-+ ?original message headers -+|"
    r"-+ Below this line is a copy of the message|-+ This is a copy of the first part of the message|"
    r"bounced E-?Mail:\s*$|Original message (?:details|headers):|-+ ?START OF RETURNED MESSAGE -+)",
    re.I | re.M,
)


def find_addresses(text: str) -> list[str]:
    """Email addresses in order of appearance (angle-bracketed ones first on each line)."""
    return [m.group(0).strip(".") for m in _ADDR.finditer(text)]


def clean_address(addr: str) -> str:
    a = addr.strip().strip("<>\"'()[];:,. ")
    if a.lower().startswith("mailto:"):
        a = a[7:]
    if "<" in a:
        m = _ANGLE.search(addr)
        if m:
            a = m.group(1)
    if '"@' in a and a.count('"') <= 2:
        a = a.replace('"', "")  # "quoted.local.part"@domain
    return a


def is_address(addr: str) -> bool:
    return bool(_ADDR.fullmatch(addr))


def find_status(text: str, failures_only: bool = True) -> str:
    """The first RFC 3463 enhanced status code in text (4.x.x or 5.x.x unless told otherwise), or ""."""
    for m in _STATUS.finditer(text):
        if failures_only and m.group(1) == "2":
            continue  # a 250 2.1.0 in a session transcript is not the failure
        return f"{m.group(1)}.{int(m.group(2))}.{int(m.group(3))}"
    return ""


def find_all_status(text: str) -> list[str]:
    return [f"{m.group(1)}.{int(m.group(2))}.{int(m.group(3))}" for m in _STATUS.finditer(text)]


def find_reply_code(text: str) -> str:
    """The first SMTP reply code (2xx/4xx/5xx) that reads like a reply, or ""."""
    for m in _REPLY.finditer(text):
        start = m.start()
        before = text[max(0, start - 1) : start]
        if before and (before.isalnum() or before in "#/:=@"):
            continue
        return m.group(1)
    return ""


# All command patterns in one regex (one scan of the text); the earliest-listed match wins.
_ANY_COMMAND = re.compile(
    "|".join(
        f"(?P<c{i}>{p.pattern})" if p.flags & re.I else f"(?P<c{i}>(?-i:{p.pattern}))"
        for i, (_, p) in enumerate(_COMMANDS)
    ),
    re.I,
)


def find_command(text: str) -> str:
    """The SMTP command a diagnostic says it answered ("RCPT", "DATA", ...), or ""."""
    best = len(_COMMANDS)
    for m in _ANY_COMMAND.finditer(text):
        group = m.lastgroup
        if group is not None:
            best = min(best, int(group[1:]))
    return _COMMANDS[best][0] if best < len(_COMMANDS) else ""


def split_original(text: str) -> tuple[str, str]:
    """Split a non-MIME bounce body into (report, returned original)."""
    m = _ORIGINAL_MARKERS.search(text)
    if not m:
        return text, ""
    return text[: m.start()], text[m.start() :]


def squeeze(text: str) -> str:
    """One line: whitespace runs collapsed."""
    return " ".join(text.split())


_HDR = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*)$")


def header_fields(block: str, names: tuple[str, ...]) -> dict[str, str]:
    """First value of each named header (lower-cased names) in a text block of header lines."""
    out: dict[str, str] = {}
    want = set(names)
    last = ""
    for line in block.split("\n"):
        if not line.strip():
            if out:
                break
            continue
        if line[0] in " \t" and last:
            out[last] += " " + line.strip()
            continue
        m = _HDR.match(line)
        last = ""
        if m:
            key = m.group(1).lower()
            if key in want and key not in out:
                out[key] = m.group(2).strip()
                last = key
    return out
