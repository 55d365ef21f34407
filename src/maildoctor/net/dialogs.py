"""The client side of the SMTP, POP3 and IMAP greetings: banner, capabilities, STARTTLS, AUTH.

Each dialog fills a `Session` as it goes, so a probe cut short by its time limit still
reports what it saw. Nothing is ever sent beyond EHLO/CAPA/CAPABILITY, STARTTLS and QUIT/LOGOUT
(plus MAIL FROM/RCPT TO in `smtp_envelope`, used only by the Outlook checks, always followed by RSET).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from maildoctor.net.tlsinfo import TlsInfo, probe_context, tls_from_object

MAX_LINE = 4096
MAX_LINES = 200


class DialogError(Exception):
    """The server said something the dialog cannot go on with (closed, garbage, too long)."""


@dataclass
class Session:
    """Mutable record of one connection's dialog; turned into a frozen PortResult by the probe."""

    protocol: str = "unknown"
    banner: str = ""
    banner_code: int | None = None
    capabilities: list[str] = field(default_factory=list)
    capabilities_tls: list[str] = field(default_factory=list)
    starttls_offered: bool = False
    tls: TlsInfo | None = None
    auth_before_tls: list[str] = field(default_factory=list)
    auth_after_tls: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # command -> reply transcript (for evidence)
    note: str = ""


async def read_line(reader: asyncio.StreamReader, timeout: float) -> str:
    try:
        raw = await asyncio.wait_for(reader.readline(), timeout)
    except ValueError as exc:  # line longer than the stream limit
        raise DialogError("server sent an over-long line") from exc
    if not raw:
        raise DialogError("server closed the connection")
    return raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r\n")


async def read_smtp_reply(reader: asyncio.StreamReader, timeout: float) -> tuple[int, list[str]]:
    """A (possibly multi-line) SMTP reply: code and the text of each line."""
    lines: list[str] = []
    while len(lines) < MAX_LINES:
        line = await read_line(reader, timeout)
        if len(line) < 3 or not line[:3].isdigit():
            raise DialogError(f"not an SMTP reply: {line[:80]!r}")
        lines.append(line[4:])
        if len(line) == 3 or line[3] != "-":
            return int(line[:3]), lines
    raise DialogError("SMTP reply with too many lines")


async def send(writer: asyncio.StreamWriter, text: str) -> None:
    writer.write(text.encode("ascii", "replace") + b"\r\n")
    await writer.drain()


async def start_tls(writer: asyncio.StreamWriter, mode: str, server_name: str, timeout: float,
                    context: ssl.SSLContext | None = None) -> TlsInfo:
    """Upgrade the connection; the TlsInfo says what was negotiated or why it failed."""
    ctx = context or probe_context()
    sni = None if _is_ip(server_name) else server_name
    try:
        await asyncio.wait_for(writer.start_tls(ctx, server_hostname=sni), timeout)
    except ssl.SSLCertVerificationError as exc:
        return TlsInfo(mode=mode, ok=False, chain_verified=False, verify_error=str(exc.verify_message or exc))
    except (ssl.SSLError, OSError, TimeoutError) as exc:
        return TlsInfo(mode=mode, ok=False, error=f"TLS handshake failed: {_err(exc)}")
    obj = writer.get_extra_info("ssl_object")
    if obj is None:
        return TlsInfo(mode=mode, ok=False, error="TLS handshake gave no session")
    return tls_from_object(mode, obj, server_name)


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _err(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def auth_mechanisms(ehlo_lines: list[str]) -> list[str]:
    """AUTH mechanisms from EHLO keywords ("AUTH PLAIN LOGIN" and the old "AUTH=LOGIN")."""
    mechs: list[str] = []
    for line in ehlo_lines:
        words = line.replace("=", " ", 1).split() if line.upper().startswith("AUTH=") else line.split()
        if words and words[0].upper() == "AUTH":
            mechs.extend(w.upper() for w in words[1:] if w.upper() not in mechs)
    return mechs


async def smtp_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, helo: str,
                     timeout: float, s: Session) -> list[str] | None:
    """EHLO (HELO when EHLO is refused); the capability lines, or None when both were refused."""
    await send(writer, f"EHLO {helo}")
    code, lines = await read_smtp_reply(reader, timeout)
    s.replies.append(f"EHLO {helo} -> {code} {lines[0] if lines else ''}".rstrip())
    if code == 250:
        return lines[1:]
    await send(writer, f"HELO {helo}")
    code, lines = await read_smtp_reply(reader, timeout)
    s.replies.append(f"HELO {helo} -> {code} {' / '.join(lines)}".rstrip())
    return [] if code == 250 else None


async def smtp_dialog(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit: bool,
                      server_name: str, helo: str, timeout: float, s: Session,
                      context: ssl.SSLContext | None = None) -> None:
    s.protocol = "smtp"
    if implicit:
        s.tls = await start_tls(writer, "implicit", server_name, timeout, context)
        if not s.tls.ok:
            return
    code, lines = await read_smtp_reply(reader, timeout)
    s.banner_code, s.banner = code, " / ".join(lines)
    if code != 220:
        return
    caps = await smtp_hello(reader, writer, helo, timeout, s)
    if caps is None:
        return
    target = s.capabilities_tls if implicit else s.capabilities
    target.extend(caps)
    if implicit:
        s.auth_after_tls = auth_mechanisms(caps)
        return
    s.auth_before_tls = auth_mechanisms(caps)
    s.starttls_offered = any(c.upper().split()[:1] == ["STARTTLS"] for c in caps)
    if not s.starttls_offered:
        return
    await send(writer, "STARTTLS")
    code, lines = await read_smtp_reply(reader, timeout)
    s.replies.append(f"STARTTLS -> {code} {' / '.join(lines)}")
    if code != 220:
        s.tls = TlsInfo(mode="starttls", ok=False, error=f"STARTTLS refused: {code} {' / '.join(lines)}")
        return
    s.tls = await start_tls(writer, "starttls", server_name, timeout, context)
    if not s.tls.ok:
        return
    caps = await smtp_hello(reader, writer, helo, timeout, s) or []
    s.capabilities_tls.extend(caps)
    s.auth_after_tls = auth_mechanisms(caps)


async def smtp_quit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
    try:
        await send(writer, "QUIT")
        await read_smtp_reply(reader, min(timeout, 1.0))
    except (DialogError, OSError, TimeoutError):
        pass


async def _pop3_capa(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> list[str]:
    await send(writer, "CAPA")
    first = await read_line(reader, timeout)
    if not first.startswith("+OK"):
        return []
    caps: list[str] = []
    while len(caps) < MAX_LINES:
        line = await read_line(reader, timeout)
        if line == ".":
            break
        caps.append(line)
    return caps


def pop3_auth(caps: list[str]) -> list[str]:
    mechs: list[str] = []
    for line in caps:
        words = line.split()
        if words and words[0].upper() == "SASL":
            mechs.extend(w.upper() for w in words[1:])
        elif words and words[0].upper() == "USER":
            mechs.append("USER")
    return mechs


async def _greeting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Session, protocol: str,
                    ok_prefix: str, *, implicit: bool, server_name: str, timeout: float,
                    context: ssl.SSLContext | None) -> bool:
    """Implicit TLS if asked, then the greeting; True when the server said it is ready (POP3 and IMAP)."""
    s.protocol = protocol
    if implicit:
        s.tls = await start_tls(writer, "implicit", server_name, timeout, context)
        if not s.tls.ok:
            return False
    s.banner = await read_line(reader, timeout)
    return s.banner.upper().startswith(ok_prefix)


def _record_caps(s: Session, caps: list[str], auth: list[str], implicit: bool) -> None:
    """Capabilities and AUTH mechanisms go to the TLS side on an implicit-TLS port, else to plain text."""
    if implicit:
        s.capabilities_tls, s.auth_after_tls = caps, auth
    else:
        s.capabilities, s.auth_before_tls = caps, auth


async def pop3_dialog(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit: bool,
                      server_name: str, timeout: float, s: Session,
                      context: ssl.SSLContext | None = None) -> None:
    if not await _greeting(reader, writer, s, "pop3", "+OK", implicit=implicit, server_name=server_name,
                           timeout=timeout, context=context):
        return
    caps = await _pop3_capa(reader, writer, timeout)
    _record_caps(s, caps, pop3_auth(caps), implicit)
    if implicit:
        return
    s.starttls_offered = any(c.upper() == "STLS" for c in caps)
    if not s.starttls_offered:
        return
    await send(writer, "STLS")
    reply = await read_line(reader, timeout)
    if not reply.startswith("+OK"):
        s.tls = TlsInfo(mode="starttls", ok=False, error=f"STLS refused: {reply}")
        return
    s.tls = await start_tls(writer, "starttls", server_name, timeout, context)
    if s.tls.ok:
        s.capabilities_tls = await _pop3_capa(reader, writer, timeout)
        s.auth_after_tls = pop3_auth(s.capabilities_tls)


async def _imap_command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tag: str, command: str,
                        timeout: float) -> tuple[str, list[str]]:
    await send(writer, f"{tag} {command}")
    untagged: list[str] = []
    while len(untagged) < MAX_LINES:
        line = await read_line(reader, timeout)
        if line.startswith(f"{tag} "):
            return line[len(tag) + 1 :], untagged
        untagged.append(line)
    raise DialogError("IMAP reply with too many lines")


def imap_caps(lines: list[str]) -> list[str]:
    for line in lines:
        upper = line.upper()
        if upper.startswith("* CAPABILITY "):
            return line.split()[2:]
    return []


def imap_auth(caps: list[str]) -> list[str]:
    mechs = [c.split("=", 1)[1].upper() for c in caps if c.upper().startswith("AUTH=")]
    if "LOGINDISABLED" not in (c.upper() for c in caps):
        mechs.append("LOGIN-COMMAND")
    return mechs


async def imap_dialog(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit: bool,
                      server_name: str, timeout: float, s: Session,
                      context: ssl.SSLContext | None = None) -> None:
    if not await _greeting(reader, writer, s, "imap", "* OK", implicit=implicit, server_name=server_name,
                           timeout=timeout, context=context):
        return
    _status, lines = await _imap_command(reader, writer, "md1", "CAPABILITY", timeout)
    caps = imap_caps(lines)
    _record_caps(s, caps, imap_auth(caps), implicit)
    if implicit:
        return
    s.starttls_offered = "STARTTLS" in (c.upper() for c in caps)
    if not s.starttls_offered:
        return
    status, _ = await _imap_command(reader, writer, "md2", "STARTTLS", timeout)
    if not status.upper().startswith("OK"):
        s.tls = TlsInfo(mode="starttls", ok=False, error=f"STARTTLS refused: {status}")
        return
    s.tls = await start_tls(writer, "starttls", server_name, timeout, context)
    if s.tls.ok:
        _status, lines = await _imap_command(reader, writer, "md3", "CAPABILITY", timeout)
        s.capabilities_tls = imap_caps(lines)
        s.auth_after_tls = imap_auth(s.capabilities_tls)
