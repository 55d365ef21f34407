"""A small, fast MIME reader for bounces: headers, multipart splitting, transfer decodings.

The stdlib parser builds a full object tree for every message and is most of the cost of a
bounce run; bounces need far less. This reader splits on boundaries with bytes.find, decodes
base64 and quoted-printable with binascii, and feeds the same `_Flattener`-shaped output as the
stdlib path (`mime.parse_mail` falls back to the stdlib parser when this one gives up).
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass, field

MAX_DEPTH = 12
MAX_PARTS = 200
MAX_PART_TEXT = 256 * 1024

_PARAM = re.compile(r';\s*([A-Za-z0-9*_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


class FastMimeError(Exception):
    """Input this reader does not handle; the caller uses the stdlib parser instead."""


@dataclass(slots=True)
class Part:
    headers: list[tuple[str, str]]
    body: bytes
    ctype: str = "text/plain"
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return ""


def parse_headers(block: bytes) -> list[tuple[str, str]]:
    """(name, unfolded value) pairs of a header block, in order."""
    text = block.decode("utf-8", errors="replace") if block.isascii() is False else block.decode("ascii")
    out: list[tuple[str, str]] = []
    name = ""
    value: list[str] = []
    for line in text.split("\n"):
        if line[:1] in (" ", "\t"):
            if name:
                value.append(line.strip())
            continue
        if name:
            out.append((name, " ".join(value)))
            name = ""
        colon = line.find(":")
        if colon > 0 and " " not in line[:colon].strip():
            name = line[:colon].strip()
            value = [line[colon + 1 :].strip()]
    if name:
        out.append((name, " ".join(value)))
    return out


def content_type(value: str) -> tuple[str, dict[str, str]]:
    main = value.split(";", 1)[0].strip().lower() or "text/plain"
    if "/" not in main:
        main = "text/plain"
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(value)
    }
    return main, params


def split_message(raw: bytes) -> Part:
    """Headers and body of a message (LF newlines)."""
    if raw.startswith(b"\n"):
        head, body = b"", raw[1:]
    else:
        cut = raw.find(b"\n\n")
        head, body = (raw, b"") if cut < 0 else (raw[:cut], raw[cut + 2 :])
    headers = parse_headers(head)
    ct = ""
    for k, v in headers:
        if k.lower() == "content-type":
            ct = v
            break
    ctype, params = content_type(ct)
    return Part(headers, body, ctype, params)


def decode_body(part: Part) -> bytes:
    cte = part.header("content-transfer-encoding").lower().strip()
    body = part.body
    if cte == "base64":
        try:
            return binascii.a2b_base64(body)
        except (binascii.Error, ValueError):
            cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", body)
            cleaned = cleaned[: len(cleaned) // 4 * 4]
            try:
                return binascii.a2b_base64(cleaned)
            except (binascii.Error, ValueError):
                return body
    if cte == "quoted-printable":
        return binascii.a2b_qp(body)
    return body


def decode_text(part: Part) -> str:
    data = decode_body(part)[: MAX_PART_TEXT * 2]
    charset = (part.params.get("charset") or "utf-8").strip().lower()
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    text = data.decode(charset, errors="replace")
    if "\ufffd" in text and not data.isascii():
        # mislabelled 8-bit text (EUC-JP sent as ISO-2022-JP is common): try the usual suspects
        for alt in ("utf-8", "euc-jp", "shift_jis", "gb18030", "cp1252"):
            try:
                text = data.decode(alt)
                break
            except UnicodeDecodeError:
                continue
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:MAX_PART_TEXT]


def subparts(part: Part) -> list[Part]:
    boundary = part.params.get("boundary", "")
    if not boundary:
        raise FastMimeError("multipart without boundary")
    delim = b"--" + boundary.encode("latin-1", errors="replace")
    body = b"\n" + part.body
    marker = b"\n" + delim

    def find(at: int) -> int:
        """The next delimiter line (not a longer boundary that merely starts the same way)."""
        while True:
            i = body.find(marker, at)
            if i < 0:
                return -1
            nxt_char = body[i + len(marker) : i + len(marker) + 1]
            if nxt_char in (b"", b"\n", b"-", b" ", b"\t"):
                return i
            at = i + 1

    pieces: list[Part] = []
    pos = find(0)
    if pos < 0:
        raise FastMimeError("boundary never used")
    while pos >= 0 and len(pieces) < MAX_PARTS:
        start = pos + len(marker)
        if body[start : start + 2] == b"--":
            break
        eol = body.find(b"\n", start)
        if eol < 0:
            break
        nxt = find(eol)
        chunk = body[eol + 1 : nxt if nxt >= 0 else len(body)]
        pieces.append(split_message(chunk))
        pos = nxt
    return pieces
