"""Outlook 0x800CCCxx codes: lookup in kb/outlook_codes.toml and parsing of a pasted error text (pure).

Outlook's error dialogs carry most of what a diagnosis needs, in a loose "Key: 'value'" form:
"Account: 'mail.example.com', Server: 'mail.example.com', Protocol: SMTP, Server Response: '550
relay not permitted', Port: 25, Secure(SSL): No, Server Error: 550, Error Number: 0x800CCC69".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from maildoctor import kb
from maildoctor.errors import UsageError

_HEX = re.compile(r"(?<![0-9A-Za-z])(?:0x)?([08]00ccc[0-9a-f]{2}|8004210[89ab])(?![0-9A-Za-z])", re.I)
_DEC = re.compile(r"(?<![\d-])(-2146\d{6}|2148\d{6})(?!\d)")
_QUOTED = r"'([^']*)'|\"([^\"]*)\"|([^,\s)]+)"
_FIELDS = {
    "server": re.compile(r"\b(?:SMTP |POP3? |IMAP |incoming |outgoing )?server(?: name)?\s*[:=]\s*(?:" + _QUOTED + ")",
                         re.I),
    "account": re.compile(r"\baccount\s*[:=]\s*(?:" + _QUOTED + ")", re.I),
    "protocol": re.compile(r"\bprotocol\s*[:=]\s*(?:" + _QUOTED + ")", re.I),
    "port": re.compile(r"\bport\s*[:=]?\s*'?(\d{1,5})\b", re.I),
    "ssl": re.compile(r"\bsecure\s*\(?\s*SSL\s*\)?\s*[:=]\s*'?(yes|no)\b", re.I),
    "socket_error": re.compile(r"\bsocket error\s*[:=]?\s*(\d+)", re.I),
    "server_error": re.compile(r"\bserver error\s*[:=]?\s*(\d{3})", re.I),
    "recipient": re.compile(r"rejected e-?mail address was\s*'([^']+)'", re.I),
}
_RESPONSE = [
    re.compile(r"server response\s*[:=]\s*'([^']*)'", re.I),
    re.compile(r"server responded\s*[:=]?\s*'?(\d{3}[ -][^'\n]*?)'?\s*"
               r"(?:$|\n|\(account|,\s*(?:port|protocol|account)\b)", re.I),
]
_CANT_FIND = re.compile(r"cannot find (?:the )?server\s+'?([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)", re.I)
_TASK = re.compile(r"task\s+'([^']+?)\s+-\s+(?:sending|receiving|send and receive)", re.I)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
SOCKET_ERRORS = {
    "10060": "connection timed out (no answer: packets dropped)",
    "10061": "connection refused (nothing listening, or a REJECT rule)",
    "10053": "connection aborted by the local machine (often antivirus or a firewall on the PC)",
    "10054": "connection reset by the server",
    "11001": "host not found (DNS)",
    "11004": "no address for the name (DNS)",
}


@dataclass(frozen=True, slots=True)
class OutlookError:
    """What a pasted Outlook error says (empty fields were not in the text)."""

    code: str = ""  # normalised "0x800CCC0E"
    server: str = ""
    account: str = ""
    protocol: str = ""  # SMTP | POP3 | IMAP
    port: int | None = None
    ssl: bool | None = None
    response: str = ""  # the server's answer as Outlook quoted it
    response_code: int | None = None
    socket_error: str = ""
    recipient: str = ""
    address: str = ""  # an e-mail address found in the text (the account's, usually)


def normalize_code(text: str) -> str | None:
    """'800ccc0e', '0x800CCC0E' or the signed decimal HRESULT -> '0x800CCC0E'; None when none found."""
    m = _HEX.search(text)
    if m:
        return "0x" + m.group(1).upper()
    m = _DEC.search(text)
    if m:
        value = int(m.group(1)) & 0xFFFFFFFF
        hexed = f"{value:08X}"
        if hexed.startswith("800CCC") or hexed.startswith("000CCC") or hexed.startswith("8004210"):
            return "0x" + hexed
    return None


def _first(m: re.Match[str] | None) -> str:
    if not m:
        return ""
    return next((g for g in m.groups() if g), "").strip()


def parse_outlook_text(text: str) -> OutlookError:
    """Extract code, server, port, SSL, protocol and the server's response from a pasted error."""
    text = text[:20000]
    code = normalize_code(text) or ""
    f = {k: _first(p.search(text)) for k, p in _FIELDS.items()}
    response = ""
    for pat in _RESPONSE:
        m = pat.search(text)
        if m:
            response = m.group(1).strip()
            break
    server = f["server"] or _first(_CANT_FIND.search(text))
    protocol = f["protocol"].upper()
    if not protocol:
        low = text.lower()
        protocol = "SMTP" if ("sending" in low or "smtp" in low) else "IMAP" if "imap" in low else (
            "POP3" if "pop3" in low or "receiving" in low else "")
    code_num = f["server_error"] or (response[:3] if response[:3].isdigit() else "")
    emails = _EMAIL.findall(text)
    account = f["account"] or _first(_TASK.search(text))
    return OutlookError(
        code=code,
        server=server.rstrip("."),
        account=account,
        protocol=protocol,
        port=int(f["port"]) if f["port"] and 0 < int(f["port"]) < 65536 else None,
        ssl={"yes": True, "no": False}.get(f["ssl"].lower()) if f["ssl"] else None,
        response=response,
        response_code=int(code_num) if code_num else None,
        socket_error=f["socket_error"],
        recipient=f["recipient"],
        address=account if "@" in account else next((e for e in emails if e != f["recipient"]), ""),
    )


def code_from_phrases(text: str) -> str | None:
    """When no number is pasted: the code whose typical Outlook wording appears in the text."""
    match = kb.load("outlook_codes").first_match(text)
    return match[0].id if match else None


def lookup_code(code: str) -> kb.KbEntry:
    try:
        return kb.load("outlook_codes").by_id(code)
    except KeyError:
        raise UsageError(f"{code}: not an Outlook error code maildoctor knows (0x800CCCxx)") from None


def describe(entry: kb.KbEntry) -> dict[str, Any]:
    """The JSON-able facts of a code: code, name, range, meaning, detail/hint."""
    return {
        "code": entry.id,
        "name": entry["name"],
        "range": entry.get("range", entry.get("group", "")),
        "meaning": entry["meaning"],
        "detail": " ".join(str(entry.get("detail", "")).split()),
        "hint": entry.get("hint", ""),
        "verified": entry.get("verified", True),
    }
