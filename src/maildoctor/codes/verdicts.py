"""Causes and verdicts of an Outlook error, and the probes the checks share.

Verdicts: confirmed (a check proved it), likely (the checks point at it but cannot see the
client's side), possible (not excluded), ruled_out, or not_checked. Only the server the user
named is contacted (`Context.server`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from maildoctor import kb
from maildoctor.codes.outlook import OutlookError
from maildoctor.net.probe import PortResult, Resolution, lookup_host, probe_ports
from maildoctor.net.smtpcheck import EnvelopeResult, client_helo_name, probe_envelope

CONFIRMED, LIKELY, POSSIBLE, RULED_OUT, NOT_CHECKED = "confirmed", "likely", "possible", "ruled_out", "not_checked"
VERDICT_ORDER = {CONFIRMED: 0, LIKELY: 1, POSSIBLE: 2, NOT_CHECKED: 3, RULED_OUT: 4}
CLIENT_HELO = "DESKTOP-MAILDOCTOR"  # what Outlook sends: the PC's bare NetBIOS name
RELAY_TEST = "maildoctor-relay-test@example.com"
SMTP_PORTS = (25, 587, 465, 2525, 26)
FAMILY_PORTS = {"SMTP": SMTP_PORTS, "POP3": (110, 995), "IMAP": (143, 993)}
IMPLICIT = {465, 993, 995}


@dataclass
class Cause:
    cause: str
    text: str
    checked: bool = False
    verdict: str = NOT_CHECKED
    detail: str = ""
    evidence: list[str] = field(default_factory=list)
    fix: list[str] = field(default_factory=list)

    def set(self, verdict: str, detail: str, *evidence: str) -> None:
        self.checked, self.verdict, self.detail = True, verdict, detail
        self.evidence.extend(e for e in evidence if e)


@dataclass
class Context:
    err: OutlookError
    server: str
    user: str
    dns_server: str | None
    timeout: float
    resolution: Resolution | None = None
    notes: list[str] = field(default_factory=list)


def checked_as(code: str) -> str:
    """The code whose causes and checks apply (Outlook's MAPI codes reuse the IXP code's)."""
    return str(kb.load("outlook_codes").by_id(code).get("alias_of", code))


def causes_for(code: str) -> list[Cause]:
    entry = kb.load("outlook_codes").by_id(checked_as(code))
    return [Cause(c["id"], c["text"], fix=list(c.get("fix", []))) for c in entry.get("cause", [])]


def apply_response_hints(code: str, causes: list[Cause], response: str) -> None:
    """Without live checks, the server's quoted answer already points at a cause."""
    if not response:
        return
    entry = kb.load("outlook_codes").by_id(checked_as(code))
    hints = {c["id"]: c.get("response_hint") for c in entry.get("cause", [])}
    for c in causes:
        pat = hints.get(c.cause)
        if pat and re.search(pat, response, re.I) and c.verdict == NOT_CHECKED:
            c.verdict, c.detail = LIKELY, f"the server's answer in the error says so: {response!r}"


def by_cause(causes: list[Cause]) -> dict[str, Cause]:
    return {c.cause: c for c in causes}


def resolve_server(ctx: Context) -> Resolution:
    if ctx.resolution is None:
        ctx.resolution = lookup_host(ctx.server, ctx.dns_server, ctx.timeout)
    return ctx.resolution


def smtp_port(ctx: Context) -> int:
    return ctx.err.port or 25  # Outlook's default for the outgoing server


def _sender(ctx: Context) -> str:
    if ctx.user:
        return ctx.user
    if "@" in ctx.err.address:
        return ctx.err.address
    domain = ctx.server.split(".", 1)[1] if ctx.server.count(".") >= 2 else ctx.server
    return f"postmaster@{domain}"


def envelope_check(ctx: Context, rcpts: tuple[str, ...] = (), bad_helo: str = "") -> EnvelopeResult | None:
    res = resolve_server(ctx)
    if not res.addresses:
        ctx.notes.append(f"{ctx.server} does not resolve here ({res.error}): no live SMTP check")
        return None
    port = smtp_port(ctx)
    ssl = bool(ctx.err.ssl)
    return probe_envelope(res.addresses[0], port, ctx.server, mail_from=_sender(ctx), rcpts=rcpts,
                          implicit_tls=ssl and port in IMPLICIT, use_starttls=ssl and port not in IMPLICIT,
                          bad_helo=bad_helo, helo=client_helo_name(), timeout=ctx.timeout)


def port_check(ctx: Context, ports: tuple[int, ...]) -> dict[int, PortResult]:
    res = resolve_server(ctx)
    if not res.addresses:
        return {}
    return {r.port: r for r in probe_ports(res.addresses[0], ports, ctx.server, client_helo_name(), ctx.timeout)}


def reply_text(r: object) -> str:
    describe = getattr(r, "describe", None)
    return str(describe()) if callable(describe) else ""


