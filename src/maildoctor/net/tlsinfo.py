"""What a TLS handshake showed: protocol, cipher, the server certificate and whether it verifies.

Python 3.11 hands out the peer certificate only as DER when verification is off, so the
certificate is decoded with the ssl module's own decoder (the one `getpeercert()` uses) through
a temporary PEM file. Chain verification is a separate handshake with the system trust store
(`verify_context`), so a self-signed or incomplete chain is reported with OpenSSL's own words.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from typing import Any

_DECODE = getattr(ssl, "_ssl", None)


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    names: tuple[str, ...]  # subjectAltName DNS/IP entries (the CN when there are none)
    not_before: str
    not_after: str
    days_left: int | None
    self_signed: bool


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """`mode` is starttls (upgraded plain connection: SMTP/POP3 STLS/IMAP) or implicit (465/993/995)."""

    mode: str
    ok: bool  # the handshake completed
    version: str = ""  # TLSv1.3, TLSv1.2, ...
    cipher: str = ""
    cert: CertInfo | None = None
    chain: tuple[CertInfo, ...] = ()  # as the server sent it, leaf first
    chain_verified: bool | None = None  # None: not checked (handshake failed or verify probe timed out)
    verify_error: str = ""  # OpenSSL's reason: "self-signed certificate", "certificate has expired", ...
    hostname_match: bool | None = None  # None: the name was not checked (no certificate)
    error: str = ""  # why the handshake (or the upgrade) failed


def probe_context() -> ssl.SSLContext:
    """A context that accepts any certificate: the probe wants to see it, not to trust it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with contextlib.suppress(ssl.SSLError):  # let old servers (TLS 1.0/1.1) be seen, to report them as such
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def verify_context() -> ssl.SSLContext:
    """System trust store, hostname checked separately (so a chain error and a name error both show)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    return ctx


def _name(rdns: Any) -> str:
    parts = []
    for rdn in rdns or ():
        for key, value in rdn:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def _cn(rdns: Any) -> str:
    for rdn in rdns or ():
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def decode_der(der: bytes) -> dict[str, Any]:
    """The `getpeercert()` dictionary of a DER certificate ({} when it cannot be decoded)."""
    decoder = getattr(_DECODE, "_test_decode_cert", None)
    if decoder is None or not der:
        return {}
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(ssl.DER_cert_to_PEM_cert(der))
        decoded = decoder(path)
        return decoded if isinstance(decoded, dict) else {}
    except (ssl.SSLError, OSError, ValueError):
        return {}
    finally:
        os.unlink(path)


def analyze_cert(der: bytes, now: dt.datetime | None = None) -> CertInfo | None:
    """Subject, issuer, names, validity and self-signedness of a DER certificate."""
    return analyze_info(decode_der(der), now)


def analyze_info(info: dict[str, Any], now: dt.datetime | None = None) -> CertInfo | None:
    """CertInfo from a `getpeercert()`-style dictionary."""
    if not info:
        return None
    now = now or dt.datetime.now(dt.UTC)
    names = tuple(str(v) for k, v in info.get("subjectAltName", ()) if k in ("DNS", "IP Address"))
    if not names and _cn(info.get("subject")):
        names = (_cn(info.get("subject")),)
    not_after = str(info.get("notAfter", ""))
    days_left: int | None = None
    if not_after:
        try:
            expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.UTC)
            days_left = (expires - now).days
        except ValueError:
            days_left = None
    subject, issuer = _name(info.get("subject")), _name(info.get("issuer"))
    return CertInfo(
        subject=subject,
        issuer=issuer,
        names=names,
        not_before=str(info.get("notBefore", "")),
        not_after=not_after,
        days_left=days_left,
        self_signed=bool(subject) and subject == issuer,
    )


def peer_chain(obj: Any) -> list[dict[str, Any]]:
    """The certificates the server sent, leaf first (public API from Python 3.13, private before)."""
    for holder in (obj, getattr(obj, "_sslobj", None)):
        get = getattr(holder, "get_unverified_chain", None)
        if get is None:
            continue
        try:
            certs = get() or []
        except (ssl.SSLError, ValueError, AttributeError):
            return []
        out = []
        for c in certs:
            info = c.get_info() if hasattr(c, "get_info") else decode_der(c if isinstance(c, bytes) else b"")
            if isinstance(info, dict):
                out.append(info)
        return out
    return []


def hostname_matches(names: tuple[str, ...], host: str) -> bool:
    """RFC 6125 matching: exact name, one left-most wildcard label, or an IP address entry."""
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for name in names:
        name = name.rstrip(".").lower()
        if ip is not None:
            try:
                if ipaddress.ip_address(name) == ip:
                    return True
            except ValueError:
                continue
            continue
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == name[2:] and rest.count(".") >= 1:
                return True
    return False


def tls_from_object(mode: str, obj: Any, server_name: str) -> TlsInfo:
    """TlsInfo from a completed handshake (an ssl.SSLObject or SSLSocket)."""
    chain = tuple(c for c in (analyze_info(i) for i in peer_chain(obj)) if c is not None)
    cert = chain[0] if chain else analyze_cert(obj.getpeercert(binary_form=True) or b"")
    cipher = obj.cipher()
    return TlsInfo(
        mode=mode,
        ok=True,
        version=str(obj.version() or ""),
        cipher=str(cipher[0]) if cipher else "",
        cert=cert,
        chain=chain,
        hostname_match=hostname_matches(cert.names, server_name) if cert else None,
    )
