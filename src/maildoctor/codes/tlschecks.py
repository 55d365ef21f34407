"""Live checks for the TLS codes: 0x800CCC01 (certificate name), 0x800CCC02 (certificate date) and
0x800CCC1A (secure connection failed)."""

from __future__ import annotations

from maildoctor.codes.verdicts import (
    CONFIRMED,
    FAMILY_PORTS,
    IMPLICIT,
    LIKELY,
    RULED_OUT,
    Cause,
    Context,
    by_cause,
    port_check,
)
from maildoctor.net.probe import OPEN, PortResult


def _tls_port(ctx: Context) -> tuple[int, PortResult | None]:
    family = ctx.err.protocol if ctx.err.protocol in FAMILY_PORTS else "SMTP"
    port = ctx.err.port or {"SMTP": 587, "POP3": 995, "IMAP": 993}[family]
    ports = port_check(ctx, (port,))
    if not ports:
        ctx.notes.append(f"{ctx.server} does not resolve here: no live check")
    return port, ports.get(port)


def _tls_ev(r: PortResult) -> tuple[str, ...]:
    t = r.tls
    out = [f"port {r.port}: {r.state} {r.banner or r.error}".rstrip()]
    if t is not None:
        out.append(f"TLS {t.mode}: {'ok ' + t.version if t.ok else t.error or t.verify_error}")
        if t.cert:
            out.append(f"certificate names: {', '.join(t.cert.names)}; valid until {t.cert.not_after}")
    return tuple(out)


def check_cert_name(ctx: Context, causes: list[Cause]) -> None:
    c = by_cause(causes)
    port, r = _tls_port(ctx)
    if r is None or r.tls is None or r.tls.cert is None:
        ctx.notes.append(f"no certificate seen on port {port} ({r.state if r else 'no address'})")
        return
    names = ", ".join(r.tls.cert.names)
    if r.tls.hostname_match is False:
        c["name_not_on_cert"].set(CONFIRMED, f"the certificate on port {port} names {names}, not {ctx.server}",
                                  *_tls_ev(r))
        c["intercepted"].set(RULED_OUT, "the server's own certificate already explains it", *_tls_ev(r))
    else:
        c["name_not_on_cert"].set(RULED_OUT, f"the certificate on port {port} covers {ctx.server}", *_tls_ev(r))
        c["intercepted"].set(LIKELY, "the certificate is right from here: something on the client's path replaces "
                             "it", *_tls_ev(r))


def check_cert_date(ctx: Context, causes: list[Cause]) -> None:
    c = by_cause(causes)
    port, r = _tls_port(ctx)
    if r is None or r.tls is None or r.tls.cert is None or r.tls.cert.days_left is None:
        ctx.notes.append(f"no certificate seen on port {port}")
        return
    cert = r.tls.cert
    assert cert.days_left is not None
    if cert.days_left < 0:
        c["cert_expired"].set(CONFIRMED, f"the certificate on port {port} expired on {cert.not_after}", *_tls_ev(r))
        c["client_clock"].set(RULED_OUT, "the certificate really is expired", *_tls_ev(r))
    else:
        c["cert_expired"].set(RULED_OUT, f"valid until {cert.not_after} ({cert.days_left} days)", *_tls_ev(r))
        c["client_clock"].set(LIKELY, "the certificate is valid: the PC's clock (or an intercepting scanner) is "
                              "at fault", *_tls_ev(r))


def check_secure_connect(ctx: Context, causes: list[Cause]) -> None:
    c = by_cause(causes)
    port, r = _tls_port(ctx)
    if r is None or r.state != OPEN:
        ctx.notes.append(f"port {port} is {r.state if r else 'unreachable'}: that is 0x800CCC0E's problem")
        return
    t = r.tls
    plain = t is None or t.mode == "starttls"
    if ctx.err.ssl is True and plain and port not in IMPLICIT:
        c["ssl_on_plain_port"].set(CONFIRMED, f"port {port} greets in plain text ({r.banner or 'no TLS at connect'}); "
                                   "Outlook's SSL/TLS setting expects TLS at once", *_tls_ev(r))
    elif ctx.err.ssl is not None:
        c["ssl_on_plain_port"].set(RULED_OUT, f"the SSL setting fits port {port}", *_tls_ev(r))
    if t is not None and not t.ok:
        c["tls_fails"].set(CONFIRMED, f"the TLS handshake on port {port} fails: {t.error or t.verify_error}",
                           *_tls_ev(r))
        c["client_side"].set(RULED_OUT, "TLS fails from here too", *_tls_ev(r))
    elif t is not None and t.version in ("TLSv1", "TLSv1.1", "SSLv3"):
        c["tls_fails"].set(CONFIRMED, f"port {port} only negotiates {t.version}; current clients refuse it",
                           *_tls_ev(r))
    elif t is not None:
        c["tls_fails"].set(RULED_OUT, f"TLS works on port {port} ({t.version})", *_tls_ev(r))
        if c["ssl_on_plain_port"].verdict != CONFIRMED:
            c["client_side"].set(LIKELY, f"TLS works from here on port {port}", *_tls_ev(r))
    else:
        c["tls_fails"].set(CONFIRMED, f"port {port} offers no TLS at all (no STARTTLS)", *_tls_ev(r))
