"""Port probes: is each mail port open, refused, filtered or reset, and what does it say?

Only the host the user named is probed (its own A/AAAA addresses; MX hosts are listed, never
contacted). Ports are probed concurrently; every step has a timeout and each port has a cap,
so the whole run is bounded by `total_cap(timeout)` whatever the server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from maildoctor.errors import UsageError
from maildoctor.net.dialogs import DialogError, Session, imap_dialog, pop3_dialog, smtp_dialog, smtp_quit
from maildoctor.net.tlsinfo import TlsInfo, verify_context

DEFAULT_PORTS = (25, 26, 465, 587, 110, 143, 993, 995, 2525)
DEFAULT_TIMEOUT = 3.0

# port -> (protocol, implicit TLS). Other ports are recognised from their greeting.
KNOWN_PORTS: dict[int, tuple[str, bool]] = {
    25: ("smtp", False), 26: ("smtp", False), 587: ("smtp", False), 2525: ("smtp", False),
    465: ("smtp", True), 110: ("pop3", False), 995: ("pop3", True), 143: ("imap", False), 993: ("imap", True),
}

OPEN, REFUSED, FILTERED, RESET = "open", "refused", "filtered", "reset"

# connect() errors that mean a firewall answered (ICMP prohibited, local netfilter drop)
_FIREWALL_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM, errno.EHOSTDOWN}


@dataclass(frozen=True, slots=True)
class AuthInfo:
    before_tls: tuple[str, ...]
    after_tls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PortResult:
    port: int
    address: str
    state: str  # open | refused | filtered | reset
    seconds: float  # connect time (or time until the failure)
    protocol: str = "unknown"  # smtp | pop3 | imap | unknown
    banner: str = ""
    banner_code: int | None = None  # SMTP greeting code (220, 421, 554...)
    capabilities: tuple[str, ...] = ()  # EHLO keywords / CAPA / CAPABILITY before TLS
    capabilities_tls: tuple[str, ...] = ()
    starttls_offered: bool = False
    tls: TlsInfo | None = None
    auth: AuthInfo | None = None
    error: str = ""  # the connect error, or why the dialog stopped early
    total_seconds: float = 0.0
    transcript: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolution:
    host: str
    addresses: tuple[str, ...]
    mx: tuple[tuple[int, str], ...] = ()
    evidence: tuple[str, ...] = ()  # one line per DNS answer
    error: str = ""  # why HOST has no address (NXDOMAIN, SERVFAIL, timeout)
    status: str = "NOERROR"


@dataclass
class ProbeState:
    """What a port probe learnt so far; survives the per-port cap being hit."""

    port: int
    address: str
    state: str = FILTERED
    seconds: float = 0.0
    error: str = ""
    session: Session = field(default_factory=Session)


def parse_ports(text: str) -> tuple[int, ...]:
    """'25,587,1000-1002' -> (25, 587, 1000, 1001, 1002); at most 64 ports."""
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise UsageError(f"--ports: {part!r} is not a port or a range")
        first, last = int(lo), int(hi) if sep else int(lo)
        if not (0 < first <= last < 65536):
            raise UsageError(f"--ports: {part!r} is out of range 1-65535")
        ports.extend(p for p in range(first, last + 1) if p not in ports)
        if len(ports) > 64:
            raise UsageError("--ports: at most 64 ports")
    if not ports:
        raise UsageError("--ports: no port given")
    return tuple(ports)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def lookup_host(host: str, dns_server: str | None, timeout: float = DEFAULT_TIMEOUT) -> Resolution:
    """A/AAAA of HOST (an IP literal is used as is) and its MX records when it is a mail domain."""
    if is_ip(host):
        return Resolution(host, (str(ipaddress.ip_address(host)),))
    from maildoctor.net.dns import NOERROR, lookup_a_aaaa, lookup_mx, make_resolver

    resolver = make_resolver(dns_server, timeout)
    addresses, answers = lookup_a_aaaa(resolver, host)
    mx, mx_answer = lookup_mx(resolver, host)
    evidence = tuple(a.describe() for a in (*answers, mx_answer))
    if not addresses and dns_server is None:
        # the system resolver may know names DNS does not (/etc/hosts), as the mail client would
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            addresses = list(dict.fromkeys(str(i[4][0]) for i in infos))
            if addresses:
                evidence += (f"{host} -> {', '.join(addresses)} (system resolver, e.g. /etc/hosts)",)
        except (OSError, UnicodeError):
            pass
    if addresses:
        return Resolution(host, tuple(addresses), tuple(mx), evidence)
    status = next((a.status for a in answers if a.status != NOERROR), NOERROR)
    error = {"NXDOMAIN": "the name does not exist (NXDOMAIN)"}.get(status, "")
    if not error:
        error = "the name exists but has no A/AAAA record" if status == NOERROR else f"DNS lookup failed ({status})"
    return Resolution(host, (), tuple(mx), evidence, error, status)


def _protocol_for(port: int, banner: bytes) -> tuple[str, bool]:
    if port in KNOWN_PORTS:
        return KNOWN_PORTS[port]
    if banner.startswith(b"+OK"):
        return "pop3", False
    if banner.upper().startswith(b"* OK"):
        return "imap", False
    if banner[:3].isdigit():
        return "smtp", False
    return "unknown", False


async def _dialog(p: ProbeState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, protocol: str,
                  implicit: bool, server_name: str, helo: str, timeout: float, verify: bool) -> None:
    ctx = verify_context() if verify else None
    s = p.session
    if protocol == "smtp":
        await smtp_dialog(reader, writer, implicit=implicit, server_name=server_name, helo=helo, timeout=timeout,
                          s=s, context=ctx)
        if s.banner_code is not None:
            await smtp_quit(reader, writer, timeout)
    elif protocol == "pop3":
        await pop3_dialog(reader, writer, implicit=implicit, server_name=server_name, timeout=timeout, s=s, context=ctx)
    elif protocol == "imap":
        await imap_dialog(reader, writer, implicit=implicit, server_name=server_name, timeout=timeout, s=s, context=ctx)
    else:  # an unknown service: show what it says first, if anything
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
            s.banner = line[:200].decode("utf-8", "replace").rstrip()
        except TimeoutError:
            s.note = "no greeting (the client speaks first, or not a mail service)"


async def open_port(p: ProbeState, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """Connect and classify the outcome into P (open, refused, filtered, reset); the streams when open."""
    t0 = time.monotonic()
    try:
        streams = await asyncio.wait_for(asyncio.open_connection(p.address, p.port), timeout)
    except TimeoutError:
        p.state, p.error = FILTERED, f"no answer within {timeout:g}s (packets dropped: a firewall)"
    except ConnectionRefusedError:
        p.state, p.error = REFUSED, "connection refused (nothing listening, or a REJECT rule)"
    except ConnectionResetError:
        p.state, p.error = RESET, "connection reset"
    except OSError as exc:
        p.state = FILTERED if exc.errno in _FIREWALL_ERRNOS else REFUSED
        p.error = f"{exc.strerror or exc} (errno {exc.errno})"
    else:
        p.seconds, p.state = time.monotonic() - t0, OPEN
        return streams
    p.seconds = time.monotonic() - t0
    return None


async def _probe(p: ProbeState, server_name: str, helo: str, timeout: float, verify: bool) -> None:
    streams = await open_port(p, timeout)
    if streams is None:
        return
    reader, writer = streams
    try:
        protocol, implicit = KNOWN_PORTS.get(p.port, ("", False))
        if not protocol:
            try:  # peek at the greeting to know which dialog to speak
                first = await asyncio.wait_for(reader.readline(), timeout)
            except TimeoutError:
                first = b""
            protocol, implicit = _protocol_for(p.port, first)
            reader = _prefixed(reader, first)
        await _dialog(p, reader, writer, protocol, implicit, server_name, helo, timeout, verify)
    except (ConnectionResetError, BrokenPipeError) as exc:
        if not (p.session.banner or p.session.tls):
            p.state = RESET
        p.error = f"connection reset during the dialog ({exc.__class__.__name__})"
    except (DialogError, TimeoutError, OSError) as exc:
        if isinstance(exc, DialogError) and "closed" in str(exc) and not (p.session.banner or p.session.tls):
            p.state = RESET
        p.error = "timed out waiting for the server" if isinstance(exc, TimeoutError) else str(exc)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


def _prefixed(reader: asyncio.StreamReader, first: bytes) -> asyncio.StreamReader:
    """Put the peeked greeting back in front of READER's buffer (StreamReader has no unread)."""
    buffered = getattr(reader, "_buffer", None)
    if isinstance(buffered, bytearray):
        buffered[:0] = first
    return reader


def total_cap(timeout: float) -> float:
    """Time limit for one port: connect, greeting, EHLO, STARTTLS, handshake, EHLO, QUIT."""
    return timeout * 5 + 1.0


async def _probe_port(address: str, port: int, server_name: str, helo: str, timeout: float) -> PortResult:
    p = ProbeState(port, address)
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(_probe(p, server_name, helo, timeout, verify=False), total_cap(timeout))
    except TimeoutError:
        p.error = p.error or f"probe stopped after {total_cap(timeout):g}s"
    s = p.session
    tls = s.tls
    if tls is not None and tls.ok and p.state == OPEN:
        v = ProbeState(port, address)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_probe(v, server_name, helo, timeout, verify=True), total_cap(timeout))
        vt = v.session.tls
        if vt is not None and (vt.ok or vt.verify_error):
            from dataclasses import replace

            tls = replace(tls, chain_verified=vt.ok, verify_error=vt.verify_error)
    auth = None
    greeted = bool(s.banner) and (s.banner_code in (None, 220))
    if s.protocol != "unknown" and p.state == OPEN and greeted:
        auth = AuthInfo(tuple(s.auth_before_tls), tuple(s.auth_after_tls))
    return PortResult(
        port=port, address=address, state=p.state, seconds=round(p.seconds, 3), protocol=s.protocol,
        banner=s.banner, banner_code=s.banner_code, capabilities=tuple(s.capabilities),
        capabilities_tls=tuple(s.capabilities_tls), starttls_offered=s.starttls_offered, tls=tls, auth=auth,
        error=p.error or s.note, total_seconds=round(time.monotonic() - t0, 3), transcript=tuple(s.replies),
    )


async def _probe_all(address: str, ports: Sequence[int], server_name: str, helo: str,
                     timeout: float) -> list[PortResult]:
    limit = asyncio.Semaphore(16)

    async def one(port: int) -> PortResult:
        async with limit:
            return await _probe_port(address, port, server_name, helo, timeout)

    return list(await asyncio.gather(*(one(p) for p in ports)))


def probe_ports(address: str, ports: Sequence[int], server_name: str = "", helo: str = "",
                timeout: float = DEFAULT_TIMEOUT) -> list[PortResult]:
    """Probe PORTS on ADDRESS concurrently (the caller makes sure ADDRESS is what the user named)."""
    helo = helo or socket.gethostname() or "maildoctor.localdomain"
    return asyncio.run(_probe_all(address, ports, server_name or address, helo, timeout))


def probe_port(address: str, port: int, server_name: str = "", helo: str = "",
               timeout: float = DEFAULT_TIMEOUT) -> PortResult:
    return probe_ports(address, [port], server_name, helo, timeout)[0]
