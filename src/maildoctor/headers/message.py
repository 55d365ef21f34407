"""Get the header fields out of what a user has: a .eml file, headers pasted from Outlook or
Gmail, or a bounce that carries the original message (or only its headers).

The stdlib ``email`` parser does the header work (folding, bad encodings, defects). Before it
runs, the text is trimmed to start at the first header line (pasted headers often come with a
title line or blank lines), and everything is capped so hostile input stays cheap.
"""

from __future__ import annotations

import email.errors
import email.message
import email.parser
import email.policy
import re
from dataclasses import dataclass

MAX_INPUT_BYTES = 25 * 1024 * 1024  # a bounce may carry the whole original, attachments included
MAX_HEADER_BLOCK = 1024 * 1024  # headers past this are not analysed
MAX_FIELDS = 2000
MAX_FIELD_CHARS = 65_536

_HEADER_LINE = re.compile(r"^[A-Za-z][!-9;-~]{0,75}:", re.MULTILINE)  # a field name starts with a letter in practice
_START_FIELDS = re.compile(
    r"^(received|return-path|delivered-to|x-received|arc-seal|authentication-results|date|from|"
    r"message-id|to|subject|dkim-signature|x-original-to|x-envelope-from|mime-version):",
    re.IGNORECASE | re.MULTILINE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed)|mail delivery failed|returned mail|"
    r"failure notice|delivery status|non.?delivery|could not be delivered|warning: message .* delayed",
    re.IGNORECASE,
)
_BOUNCE_FROM = re.compile(r"mailer-daemon|postmaster|mail delivery (subsystem|system)", re.IGNORECASE)
_EMBED_MARKERS = re.compile(
    r"^-{2,} ?(this is a copy of the message|original message|the header of the original message|"
    r"below this line is a copy of the message)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class HeaderSet:
    """The header fields to analyse, in message order (newest Received first)."""

    fields: tuple[tuple[str, str], ...]  # (name, raw value, folded as written)
    origin: str  # message | embedded message/rfc822 | embedded text/rfc822-headers | bounce body
    notes: tuple[str, ...] = ()  # defects and caps hit while reading
    outer_fields: tuple[tuple[str, str], ...] = ()  # the bounce's own headers when origin is embedded

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for n, v in self.fields if n.lower() == low]

    def first(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte maps; header text stays readable


def _trim_to_headers(text: str) -> str:
    """Start at the first header line (drop an mbox 'From ' line, titles, blank lines)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("From "):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    stripped = text.lstrip()
    if not _HEADER_LINE.match(stripped):
        m = _START_FIELDS.search(text)
        stripped = text[m.start() :] if m else stripped
    return _repair_folding(stripped)


def _repair_folding(text: str) -> str:
    """Re-indent continuation lines that lost their leading space (copy-paste, broken MTAs).

    In the header block, a line that is neither a field ('Name:') nor folded is the rest of the
    previous field: without this, the parser would end the header there and lose every later field.
    """
    head, sep, body = text.partition("\n\n")
    lines = head.split("\n")
    fixed = [lines[0]]
    for line in lines[1:]:
        if line and not line[0].isspace() and not _HEADER_LINE.match(line):
            line = " " + line
        fixed.append(line)
    return "\n".join(fixed) + sep + body


def _fields(msg: email.message.Message, notes: list[str]) -> tuple[tuple[str, str], ...]:
    items = msg.items()
    if len(items) > MAX_FIELDS:
        notes.append(f"{len(items)} header fields; only the first {MAX_FIELDS} were read")
        items = items[:MAX_FIELDS]
    out = []
    for name, value in items:
        text = str(value)
        if len(text) > MAX_FIELD_CHARS:
            notes.append(f"header {name} longer than {MAX_FIELD_CHARS} characters, cut")
            text = text[:MAX_FIELD_CHARS]
        out.append((name, text))
    return tuple(out)


def _parse(text: str, notes: list[str]) -> email.message.Message:
    parser = email.parser.Parser(policy=email.policy.compat32)
    msg = parser.parsestr(text)
    for defect in msg.defects:
        notes.append(f"header defect: {type(defect).__name__}")
    return msg


def _looks_like_bounce(msg: email.message.Message) -> bool:
    ctype = msg.get_content_type()
    if ctype == "multipart/report":
        return True
    subject, sender = str(msg.get("Subject", "")), str(msg.get("From", ""))
    return bool(_BOUNCE_FROM.search(sender) or _BOUNCE_SUBJECT.search(subject))


def _payload_text(part: email.message.Message) -> str:
    raw = part.get_payload(decode=True)
    if isinstance(raw, bytes):
        return _decode(raw[:MAX_HEADER_BLOCK])
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""


def _unparsed(msg: email.message.Message) -> str:
    """The text of an already-parsed message. When its header ended early at a line that lost
    its folding indent, the blank line the serializer put there is dropped so the header can be
    repaired and read in full."""
    text = msg.as_string(policy=email.policy.compat32)
    if any(isinstance(d, email.errors.MissingHeaderBodySeparatorDefect) for d in msg.defects):
        text = text.replace("\n\n", "\n", 1)
    return text


def _embedded(msg: email.message.Message) -> tuple[str, str] | None:
    """(origin, header text) of the original message inside a bounce, or None."""
    if msg.is_multipart():
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype in ("message/rfc822", "message/global") and part is not msg:
                inner = part.get_payload()
                if isinstance(inner, list) and inner and isinstance(inner[0], email.message.Message):
                    return "embedded message/rfc822", _unparsed(inner[0])
                if isinstance(inner, str):
                    return "embedded message/rfc822", inner
            if ctype in ("text/rfc822-headers", "message/global-headers"):
                return "embedded text/rfc822-headers", _payload_text(part)
    for part in msg.walk() if msg.is_multipart() else [msg]:
        if part.get_content_maintype() != "text":
            continue
        body = _payload_text(part)
        marker = _EMBED_MARKERS.search(body)
        m = _START_FIELDS.search(body, marker.end() if marker else 0)
        if m and re.search(r"^received:", body[m.start() :], re.IGNORECASE | re.MULTILINE):
            return "bounce body", body[m.start() :]
    return None


def parse_header_text(data: bytes | str) -> HeaderSet:
    """Header fields from a message, pasted headers or a bounce (the original's, when it carries one)."""
    notes: list[str] = []
    if isinstance(data, bytes):
        if len(data) > MAX_INPUT_BYTES:
            notes.append(f"input larger than {MAX_INPUT_BYTES} bytes, the rest was not read")
            data = data[:MAX_INPUT_BYTES]
        text = _decode(data)
    else:
        text = data[:MAX_INPUT_BYTES]
    text = _trim_to_headers(text)
    msg = _parse(text, notes)
    outer = _fields(msg, notes)
    if _looks_like_bounce(msg):
        found = _embedded(msg)
        if found is not None:
            origin, inner_text = found
            inner_notes: list[str] = []
            inner = _parse(_trim_to_headers(inner_text[:MAX_HEADER_BLOCK]), inner_notes)
            fields = _fields(inner, inner_notes)
            if any(n.lower() == "received" for n, _ in fields):
                return HeaderSet(fields, origin, tuple(notes + inner_notes), outer)
    return HeaderSet(outer, "message", tuple(notes))
