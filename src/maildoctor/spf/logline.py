"""Find the client IP, envelope sender and HELO of an SPF rejection in a log line or a bounce.

The texts that mark a rejection are data (`kb/spf.toml`, entries `reject.*`); the field grammar
of Exim, Postfix, policyd-spf, Received-SPF and Authentication-Results lines is here.
"""

from __future__ import annotations

import ipaddress
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from maildoctor import kb

_IP = r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)"
_ADDR = r"[^\s<>\"';]*"

_PREFILTER = re.compile(r"spf|sender policy|5\.7\.2[3-7]", re.IGNORECASE)
_IP_PATTERNS = [
    re.compile(rf"client-ip=\"?({_IP})"),
    re.compile(rf"[;?]ip=({_IP})"),
    re.compile(rf"with ip: \[({_IP})\]"),
    re.compile(rf"\bH=[^\[]*?\[({_IP})\]"),  # Exim: H=name (helo) [ip]:port
    re.compile(rf"(?:from|client=)\s*[^\s\[]*\[({_IP})\]"),  # Postfix: RCPT from host[ip]
    re.compile(rf"designates? ({_IP}) as"),
    re.compile(rf"\[({_IP})\]"),
]
_SENDER_PATTERNS = [
    re.compile(rf"envelope-from=\"?<?({_ADDR})>?\"?"),
    re.compile(rf"smtp\.mailfrom=\"?({_ADDR})\"?"),
    re.compile(rf"\bF=<({_ADDR})>"),
    re.compile(rf"\bfrom=<({_ADDR})>"),
    re.compile(rf"[;?]id=({_ADDR})"),
    re.compile(rf"<= ({_ADDR}) "),
    re.compile(rf"domain of ({_ADDR}@{_ADDR})"),
    re.compile(r"SPF \[([^\]\s]+)\] with ip"),  # Gmail names only the domain
]
_HELO_PATTERNS = [
    re.compile(r"\bhelo=<?\"?([^\s<>\";]+)"),
    re.compile(r"smtp\.helo=\"?([^\s\";]+)"),
    re.compile(r"\bH=[^\s(\[]*\s*\(([^)\s]+)\)"),  # Exim shows the HELO in parentheses when it differs
]


@dataclass(frozen=True, slots=True)
class SpfRejection:
    ip: str
    sender: str
    helo: str
    line: str  # the line that showed the rejection
    rule: str  # the kb entry that recognised it
    line_number: int | None = None


def _first(patterns: list[re.Pattern[str]], text: str) -> str:
    for pat in patterns:
        m = pat.search(text)
        if m:
            return m.group(1)
    return ""


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ip(text: str) -> str:
    for pat in _IP_PATTERNS:
        for m in pat.finditer(text):
            if _valid_ip(m.group(1)):
                return m.group(1)
    return ""


def is_spf_rejection(line: str) -> str | None:
    """The id of the kb rule that recognises LINE as an SPF rejection, or None."""
    for entry in kb.load("spf"):
        if entry.get("kind") == "rejection" and entry.search(line):
            return entry.id
    return None


def parse_spf_rejection(text: str) -> SpfRejection | None:
    """The first SPF rejection in TEXT (a log line, several lines or a whole bounce) with its fields.

    Fields missing from the rejection line itself are taken from the rest of TEXT (a bounce often
    has the client IP in the diagnostic and the sender in the returned headers).
    """
    lines = text.splitlines() or [text]
    # a bounce may wrap the diagnostic over several lines: also try each line joined with the next
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        following = lines[number].strip() if number < len(lines) else ""
        joined = line + " " + following
        # the line itself, or a diagnostic wrapped onto the next line (unless that line matches alone)
        rule = is_spf_rejection(line) or (None if is_spf_rejection(following) else is_spf_rejection(joined))
        if not rule:
            continue
        ip = _ip(joined) or _ip(text)
        sender = _first(_SENDER_PATTERNS, joined) or _first(_SENDER_PATTERNS, text)
        helo = _first(_HELO_PATTERNS, joined) or _first(_HELO_PATTERNS, text)
        if ip:
            return SpfRejection(ip, sender, helo, line.strip(), rule, number)
    return None


def find_spf_rejection(lines: Iterable[str], context: int = 200) -> SpfRejection | None:
    """The first SPF rejection in a stream of lines (a log of any size, or a bounce), read lazily.

    The rejection line is parsed together with the CONTEXT lines around it, so fields a bounce
    keeps elsewhere (the sender in the returned headers) are found without reading everything.
    """
    before: deque[str] = deque(maxlen=context)
    it = iter(lines)
    number = 0
    for line in it:
        number += 1
        if not _PREFILTER.search(line):
            before.append(line)
            continue
        after = list(islice(it, context))
        window = [*before, line, *after]
        found = parse_spf_rejection("\n".join(window))
        if found is not None and found.line_number is not None:
            first = number - len(before)
            return SpfRejection(found.ip, found.sender, found.helo, found.line, found.rule,
                                first + found.line_number - 1)
        before.extend([line, *after])
        number += len(after)
    return None
