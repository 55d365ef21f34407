"""SPF macro expansion (RFC 7208 §7), including the exp-only letters c, r and t."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from maildoctor.spf.record import EXP_ONLY_LETTERS, MACRO_LETTERS

_MACRO = re.compile(r"%(?:\{([A-Za-z])([0-9]*)(r?)([.\-+,/_=]*)\}|([%_-]))", re.IGNORECASE)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class MacroError(ValueError):
    """The macro-string is invalid (the caller turns this into permerror)."""


@dataclass
class MacroEnv:
    """The values the macro letters stand for (RFC 7208 §7.2)."""

    local: str  # l: local-part of <sender> ("postmaster" when empty)
    sender_domain: str  # o
    domain: str  # d: the <domain> of the current check_host()
    ip: IPAddress  # i, c, v (IPv4-mapped IPv6 already converted to IPv4)
    helo: str  # h
    receiver: str = "unknown"  # r
    timestamp: int = 0  # t
    validated_name: Callable[[], str] = field(default=lambda: "unknown")  # p (does DNS, so lazy)
    upper_hex: bool = False  # %{i} of IPv6 keeps the case the address was written in (suite v-macro-ip6)

    @property
    def sender(self) -> str:
        return f"{self.local}@{self.sender_domain}"

    def value(self, letter: str) -> str:
        ip = self.ip
        if letter == "s":
            return self.sender
        if letter == "l":
            return self.local
        if letter == "o":
            return self.sender_domain
        if letter == "d":
            return self.domain
        if letter == "i":
            if isinstance(ip, ipaddress.IPv6Address):
                nibbles = ip.exploded.replace(":", "")
                return ".".join(nibbles.upper() if self.upper_hex else nibbles)
            return str(ip)
        if letter == "c":
            return str(ip)
        if letter == "v":
            return "ip6" if isinstance(ip, ipaddress.IPv6Address) else "in-addr"
        if letter == "h":
            return self.helo
        if letter == "r":
            return self.receiver
        if letter == "t":
            return str(self.timestamp)
        if letter == "p":
            return self.validated_name()
        raise MacroError(f"unknown macro letter '{letter}'")


def _transform(value: str, digits: str, reverse: str, delimiters: str) -> str:
    parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
    if reverse:
        parts.reverse()
    if digits:
        keep = int(digits)
        if keep == 0:
            raise MacroError("a macro cannot keep zero labels (RFC 7208 §7.3)")
        parts = parts[-keep:]
    return ".".join(parts)


def expand_macros(text: str, env: MacroEnv, *, exp: bool = False) -> str:
    """Expand every macro in TEXT. Raises MacroError on invalid syntax or a letter used out of place."""
    out: list[str] = []
    pos = 0
    for m in _MACRO.finditer(text):
        if "%" in text[pos : m.start()]:
            raise MacroError(f"invalid '%' in '{text}'")
        out.append(text[pos : m.start()])
        pos = m.end()
        if m.group(5):
            out.append({"%": "%", "_": " ", "-": "%20"}[m.group(5)])
            continue
        raw_letter = m.group(1)
        letter = raw_letter.lower()
        if letter not in MACRO_LETTERS:
            raise MacroError(f"unknown macro letter in '{m.group(0)}'")
        if letter in EXP_ONLY_LETTERS and not exp:
            raise MacroError(f"macro '{m.group(0)}' is allowed only in exp= text (RFC 7208 §7.2)")
        value = _transform(env.value(letter), m.group(2), m.group(3), m.group(4))
        if raw_letter.isupper():
            value = urllib.parse.quote(value, safe="~")
        out.append(value)
    if "%" in text[pos:]:
        raise MacroError(f"invalid '%' in '{text}'")
    out.append(text[pos:])
    return "".join(out)


def expand_domain(text: str, env: MacroEnv) -> str:
    """Expand a domain-spec to a name to query: trailing dot removed, left labels dropped past 253 (§7.3)."""
    name = expand_macros(text, env)
    if name.endswith("."):
        name = name[:-1]
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name
