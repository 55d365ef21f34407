"""One SMTP session the way a mail client drives it, stopping before DATA: HELO, TLS, MAIL, RCPT.

Used by `maildoctor outlook --server` to decide between the causes of a sending error. It never
sends a message: after the envelope it always resets (RSET) and quits. Only the server the user
named is contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from maildoctor.net.dialogs import DialogError, auth_mechanisms, read_smtp_reply, send, smtp_quit, start_tls
from maildoctor.net.probe import OPEN, ProbeState, open_port, total_cap


@dataclass(frozen=True, slots=True)
class Reply:
    command: str
    code: int | None  # None: no answer (closed, timed out)
    text: str

    def describe(self) -> str:
        return f"{self.command} -> {self.code if self.code is not None else 'no answer'} {self.text}".rstrip()


@dataclass(frozen=True, slots=True)
class EnvelopeResult:
    address: str
    port: int
    state: str  # open | refused | filtered | reset
    error: str = ""
    banner_code: int | None = None
    banner: str = ""
    bad_helo: Reply | None = None  # the client-style bare HELO name, when tested
    helo: Reply | None = None
    capabilities: tuple[str, ...] = ()
    starttls_offered: bool = False
    tls_ok: bool | None = None  # None: TLS not attempted
    tls_error: str = ""
    auth: tuple[str, ...] = ()  # AUTH mechanisms offered in the state MAIL was sent in
    auth_anywhere: tuple[str, ...] = ()  # offered before or after TLS
    mail: Reply | None = None
    rcpts: tuple[Reply, ...] = ()
    transcript: tuple[str, ...] = ()


@dataclass
class _Env:
    p: ProbeState
    banner_code: int | None = None
    banner: str = ""
    bad_helo: Reply | None = None
    helo: Reply | None = None
    caps: list[str] = field(default_factory=list)
    starttls: bool = False
    tls_ok: bool | None = None
    tls_error: str = ""
    auth: list[str] = field(default_factory=list)
    auth_any: list[str] = field(default_factory=list)
    mail: Reply | None = None
    rcpts: list[Reply] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


async def _cmd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, e: _Env, command: str,
               timeout: float) -> tuple[Reply, list[str]]:
    await send(writer, command)
    code, lines = await read_smtp_reply(reader, timeout)
    reply = Reply(command, code, " / ".join(lines[:1] if command.startswith("EHLO") and code == 250 else lines))
    e.log.append(reply.describe())
    return reply, lines


async def _session(e: _Env, server_name: str, *, implicit_tls: bool, use_starttls: bool, bad_helo: str, helo: str,
                   mail_from: str, rcpts: Sequence[str], timeout: float, peek_tls: bool) -> None:
    streams = await open_port(e.p, timeout)
    if streams is None:
        return
    reader, writer = streams
    try:
        if implicit_tls:
            tls = await start_tls(writer, "implicit", server_name, timeout)
            e.tls_ok, e.tls_error = tls.ok, tls.error
            if not tls.ok:
                return
        e.banner_code, lines = await read_smtp_reply(reader, timeout)
        e.banner = " / ".join(lines)
        if e.banner_code != 220:
            return
        if bad_helo:
            e.bad_helo, lines = await _cmd(reader, writer, e, f"EHLO {bad_helo}", timeout)
        if e.bad_helo is None or e.bad_helo.code != 250:
            e.helo, lines = await _cmd(reader, writer, e, f"EHLO {helo}", timeout)
            if e.helo.code != 250:
                return
        e.caps = lines[1:]
        e.auth = auth_mechanisms(e.caps)
        e.auth_any = list(e.auth)
        e.starttls = any(c.upper().split()[:1] == ["STARTTLS"] for c in e.caps)
        if e.starttls and (use_starttls or (peek_tls and not e.auth)):
            # a client with TLS on upgrades; without it, look anyway to learn whether AUTH waits behind TLS
            reply, _ = await _cmd(reader, writer, e, "STARTTLS", timeout)
            if reply.code == 220:
                tls = await start_tls(writer, "starttls", server_name, timeout)
                e.tls_ok, e.tls_error = tls.ok, tls.error
                if not tls.ok:
                    return
                _, lines = await _cmd(reader, writer, e, f"EHLO {helo}", timeout)
                after = auth_mechanisms(lines[1:])
                e.auth_any.extend(m for m in after if m not in e.auth_any)
                if not use_starttls:
                    return  # that session is not the one the client had; MAIL goes in a fresh plain one
                e.auth = after
        e.mail, _ = await _cmd(reader, writer, e, f"MAIL FROM:<{mail_from}>", timeout)
        if e.mail.code is not None and e.mail.code < 400:
            for rcpt in rcpts:
                reply, _ = await _cmd(reader, writer, e, f"RCPT TO:<{rcpt}>", timeout)
                e.rcpts.append(reply)
        with contextlib.suppress(DialogError, OSError, TimeoutError):
            await _cmd(reader, writer, e, "RSET", timeout)
        await smtp_quit(reader, writer, timeout)
    except (DialogError, OSError, TimeoutError) as exc:
        e.p.error = "timed out waiting for the server" if isinstance(exc, TimeoutError) else str(exc)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _run(address: str, port: int, server_name: str, timeout: float, **kw: object) -> EnvelopeResult:
    cap = total_cap(timeout) * 2
    first = _Env(ProbeState(port, address))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_session(first, server_name, timeout=timeout, peek_tls=True, **kw),  # type: ignore[arg-type]
                               cap)
    e = first
    if not kw.get("use_starttls") and first.tls_ok is not None and first.mail is None and first.p.state == OPEN:
        # the first session only looked behind STARTTLS; replay the client's plain session for MAIL/RCPT
        e = _Env(ProbeState(port, address))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_session(e, server_name, timeout=timeout, peek_tls=False, **kw),  # type: ignore[arg-type]
                                   cap)
        e.auth_any = first.auth_any
        e.log = [*first.log, "(new connection, as the client: no TLS)", *e.log]
        e.tls_ok, e.tls_error = first.tls_ok, first.tls_error
    return EnvelopeResult(
        address=address, port=port, state=e.p.state, error=e.p.error, banner_code=e.banner_code, banner=e.banner,
        bad_helo=e.bad_helo, helo=e.helo, capabilities=tuple(e.caps), starttls_offered=e.starttls, tls_ok=e.tls_ok,
        tls_error=e.tls_error, auth=tuple(e.auth), auth_anywhere=tuple(e.auth_any), mail=e.mail,
        rcpts=tuple(e.rcpts), transcript=tuple(e.log),
    )


def probe_envelope(address: str, port: int, server_name: str, *, mail_from: str, rcpts: Sequence[str] = (),
                   implicit_tls: bool = False, use_starttls: bool = False, bad_helo: str = "",
                   helo: str = "maildoctor.localdomain", timeout: float = 3.0) -> EnvelopeResult:
    """Drive one SMTP envelope against ADDRESS:PORT (never DATA) and record every reply."""
    return asyncio.run(_run(address, port, server_name, timeout, implicit_tls=implicit_tls,
                              use_starttls=use_starttls, bad_helo=bad_helo, helo=helo, mail_from=mail_from,
                              rcpts=tuple(rcpts)))


def client_helo_name() -> str:
    """A fully qualified name for EHLO: this host's, or a neutral one when it has no domain."""
    name = socket.gethostname()
    return name if "." in name else "maildoctor.localdomain"
