"""Turn a raw message into a flat, searchable form: top headers, body text, original message.

Bounces are parsed the way an administrator reads them: the human-readable text, the
delivery-status fields and the returned original, in order. MIME is decoded with the stdlib
parser (compat32, bytes in) within fixed bounds, so hostile input costs bounded time and memory.
"""

from __future__ import annotations

import contextlib
import email
import email.header
import email.message
import email.parser
import re
from dataclasses import dataclass, field

from maildoctor.bounce import fastmime

MAX_BYTES = 2 * 1024 * 1024  # bounces carry their facts up front; a 50 MB attachment is cut here
MAX_DEPTH = 12  # MIME nesting we follow
MAX_PART_TEXT = 256 * 1024  # characters kept per decoded text part

_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status", "message/feedback-report"})
_ORIGINAL_TYPES = frozenset(
    {"text/rfc822-headers", "message/rfc822-headers", "text/rfc822", "message/rfc822", "message/global"}
)
_TAG = re.compile(r"<[^>]{0,2000}>")
_BR = re.compile(r"<\s*(?:br|/p|/div|/tr|p|div|tr)\b[^>]{0,200}>", re.IGNORECASE)
_ENT = {"&nbsp;": " ", "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'"}
_ENT_RE = re.compile("|".join(map(re.escape, _ENT)))


@dataclass(slots=True)
class Mail:
    """A message flattened for bounce parsing (LF newlines everywhere)."""

    headers: dict[str, str]  # lower-cased name -> first value, unfolded and RFC 2047-decoded
    content_type: str
    body: str  # readable text and delivery-status fields, before the returned message
    original: str  # headers (and maybe body) of the returned message, "" when not attached as MIME
    report_type: str = ""
    part_types: list[str] = field(default_factory=list)
    truncated: bool = False
    defects: list[str] = field(default_factory=list)
    attached: bytes = b""  # the first attached message, raw (a bounce forwarded inside another message)

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


def normalize_newlines(raw: bytes) -> bytes:
    """CRLF and bare CR become LF, so DOS and old-Mac copies parse like their Unix twins."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return raw


def decode_header_value(value: str) -> str:
    value = " ".join(value.split())
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return value


def _headers_of(msg: email.message.Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in msg.items():
        key = name.lower()
        if key not in out:
            out[key] = decode_header_value(str(value))
    return out


def _decode_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    payload = payload[: MAX_PART_TEXT * 2]
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text[:MAX_PART_TEXT]


def html_to_text(html: str) -> str:
    text = _BR.sub("\n", html)
    text = _TAG.sub("", text)
    return _ENT_RE.sub(lambda m: _ENT[m.group(0)], text)


def _headers_text(msg: email.message.Message) -> str:
    lines = [f"{k}: {' '.join(str(v).split())}" for k, v in msg.items()]
    return "\n".join(lines)


class _Flattener:
    def __init__(self) -> None:
        self.body: list[str] = []
        self.original: list[str] = []
        self.types: list[str] = []

    def emit(self, text: str) -> None:
        self.body.append(text)

    def walk(self, part: email.message.Message, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        ctype = part.get_content_type()
        self.types.append(ctype)
        maintype = ctype.split("/", 1)[0]
        if part.is_multipart():
            payload = part.get_payload()
            if ctype == "message/rfc822" or maintype == "message":
                self._message(payload, ctype, depth)
                return
            if isinstance(payload, list):
                for sub in payload[:200]:
                    if isinstance(sub, email.message.Message):
                        self.walk(sub, depth + 1)
            return
        if maintype == "multipart":
            # declared multipart but no boundary in the body: read it as plain text
            self.emit("\n" + _decode_text(part))
        elif ctype in ("message/delivery-status", "message/global-delivery-status", "message/feedback-report"):
            self.emit("\n" + _decode_text(part) + "\n")
        elif ctype in _ORIGINAL_TYPES:
            self.original.append(_decode_text(part))
        elif maintype == "text":
            text = _decode_text(part)
            if ctype == "text/html":
                # Prefer a plain alternative when one was already emitted.
                if self.body:
                    return
                text = html_to_text(text)
            self.emit("\n" + text)

    def _message(self, payload: object, ctype: str, depth: int) -> None:
        subs = payload if isinstance(payload, list) else []
        if ctype in ("message/delivery-status", "message/global-delivery-status", "message/feedback-report"):
            # compat32 parses each block of fields as a header-only message
            blocks = [_headers_text(m) for m in subs if isinstance(m, email.message.Message)]
            self.emit("\n" + "\n\n".join(blocks) + "\n")
            return
        for sub in subs[:1]:
            if isinstance(sub, email.message.Message):
                self.original.append(_headers_text(sub) + "\n\n")
                if not sub.is_multipart():
                    self.original.append(_decode_text(sub)[:8192])


def _unparsed(raw: bytes, truncated: bool) -> Mail:
    """MIME nested beyond what the parser can follow: headers, then the body as plain text."""
    head = email.parser.BytesHeaderParser().parsebytes(raw)
    _, _, body = raw.partition(b"\n\n")
    return Mail(
        headers=_headers_of(head),
        content_type=head.get_content_type(),
        body=body[: MAX_PART_TEXT].decode("utf-8", errors="replace"),
        original="",
        truncated=truncated,
        defects=["MIME nesting too deep: body read as plain text"],
    )


class _FastFlattener:
    """The same flattening as `_Flattener`, over `fastmime` parts."""

    def __init__(self) -> None:
        self.body: list[str] = []
        self.original: list[str] = []
        self.types: list[str] = []
        self.attached = b""

    def emit(self, text: str) -> None:
        self.body.append(text)

    def walk(self, part: fastmime.Part, depth: int) -> None:
        if depth > MAX_DEPTH:
            # nested deeper than any real bounce: keep the rest as plain text, do not follow it
            self.emit("\n" + part.body[: fastmime.MAX_PART_TEXT].decode("utf-8", errors="replace"))
            return
        ctype = part.ctype
        self.types.append(ctype)
        maintype = ctype.split("/", 1)[0]
        if maintype == "multipart":
            try:
                subs = fastmime.subparts(part)
            except fastmime.FastMimeError:
                self.emit("\n" + fastmime.decode_text(part))  # declared multipart, no boundary used
                return
            for sub in subs:
                self.walk(sub, depth + 1)
        elif ctype in _DSN_TYPES:
            self.emit("\n" + fastmime.decode_text(part) + "\n")
        elif ctype in ("message/rfc822", "message/global", "message/partial") or (
            maintype == "message" and ctype not in _ORIGINAL_TYPES
        ):
            raw_inner = fastmime.decode_body(part)
            if not self.attached:
                self.attached = raw_inner[: fastmime.MAX_PART_TEXT * 4]
            inner = fastmime.split_message(raw_inner)
            self.original.append("\n".join(f"{k}: {v}" for k, v in inner.headers) + "\n\n")
            if not inner.ctype.startswith("multipart/"):
                self.original.append(fastmime.decode_text(inner)[:8192])
        elif ctype in _ORIGINAL_TYPES:
            self.original.append(fastmime.decode_text(part))
        elif maintype == "text":
            text = fastmime.decode_text(part)
            if ctype == "text/html":
                if self.body:
                    return
                text = html_to_text(text)
            self.emit("\n" + text)


def _parse_fast(raw: bytes, truncated: bool) -> Mail:
    top = fastmime.split_message(raw)
    headers: dict[str, str] = {}
    for k, v in top.headers:
        key = k.lower()
        if key not in headers:
            headers[key] = decode_header_value(v)
    flat = _FastFlattener()
    flat.walk(top, 0)
    return Mail(
        headers=headers,
        content_type=top.ctype,
        body="".join(flat.body),
        original="".join(flat.original),
        report_type=top.params.get("report-type", "") if top.ctype == "multipart/report" else "",
        part_types=flat.types,
        truncated=truncated,
        attached=flat.attached,
    )


def parse_mail(raw: bytes) -> Mail:
    """Parse raw message bytes (any newline convention) into a `Mail`."""
    truncated = len(raw) > MAX_BYTES
    if truncated:
        raw = raw[:MAX_BYTES]
    raw = normalize_newlines(raw)
    try:
        return _parse_fast(raw, truncated)
    except (fastmime.FastMimeError, ValueError, LookupError, UnicodeError, IndexError, RecursionError):
        pass
    return parse_mail_stdlib(raw, truncated)


def parse_mail_stdlib(raw: bytes, truncated: bool = False) -> Mail:
    """The same, with the stdlib parser (kept for what the fast reader gives up on)."""
    try:
        msg = email.message_from_bytes(raw)
    except RecursionError:
        return _unparsed(raw, truncated)
    headers = _headers_of(msg)
    flat = _Flattener()
    with contextlib.suppress(RecursionError):
        flat.walk(msg, 0)
    defects = [type(d).__name__ for d in msg.defects]
    return Mail(
        headers=headers,
        content_type=msg.get_content_type(),
        body="".join(flat.body),
        original="".join(flat.original),
        report_type=str(msg.get_param("report-type") or "") if msg.get_content_type() == "multipart/report" else "",
        part_types=flat.types,
        truncated=truncated,
        defects=defects,
    )
