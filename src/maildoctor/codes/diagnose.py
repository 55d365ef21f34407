"""Decide between the causes of an Outlook error: the pasted text first, then live checks of --server.

Each code with causes has its own decision (the five common ones here, the TLS ones in
`tlschecks`); every cause gets a verdict (see `verdicts`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from maildoctor import kb
from maildoctor.codes.outlook import SOCKET_ERRORS, OutlookError
from maildoctor.codes.tlschecks import check_cert_date, check_cert_name, check_secure_connect
from maildoctor.codes.verdicts import (
    CLIENT_HELO,
    CONFIRMED,
    FAMILY_PORTS,
    IMPLICIT,
    LIKELY,
    NOT_CHECKED,
    POSSIBLE,
    RELAY_TEST,
    RULED_OUT,
    VERDICT_ORDER,
    Cause,
    Context,
    apply_response_hints,
    by_cause,
    causes_for,
    checked_as,
    envelope_check,
    port_check,
    reply_text,
    resolve_server,
    smtp_port,
)
from maildoctor.net.probe import FILTERED, OPEN, REFUSED, PortResult

__all__ = ["CONFIRMED", "LIKELY", "NOT_CHECKED", "POSSIBLE", "RULED_OUT", "Cause", "apply_response_hints", "best",
           "causes_for", "diagnose"]


# --------------------------------------------------------------------------- 0x800CCC0D


def check_cant_find_host(ctx: Context, causes: list[Cause]) -> None:
    from maildoctor.net.dns import NOERROR, make_resolver

    c = by_cause(causes)
    res = resolve_server(ctx)
    ev = res.evidence
    if res.addresses:
        c["client_dns"].set(CONFIRMED, f"{ctx.server} resolves here to {', '.join(res.addresses)}: the name is right; "
                            "the client's resolver or connection fails", *ev)
        c["typo"].set(RULED_OUT, "the name exists", *ev)
        c["domain_missing"].set(RULED_OUT, "the name exists", *ev)
        return
    c["client_dns"].set(RULED_OUT, f"it does not resolve from here either ({res.error})", *ev)
    resolver = make_resolver(ctx.dns_server, ctx.timeout)
    labels = ctx.server.rstrip(".").split(".")
    for i in range(1, max(1, len(labels) - 1)):
        parent = ".".join(labels[i:])
        answer = resolver.query(parent, "SOA")
        if answer.status == NOERROR:
            c["typo"].set(CONFIRMED, f"the domain {parent} exists but has no host {ctx.server}: a misspelt or old "
                          "server name", *ev, answer.describe())
            c["domain_missing"].set(RULED_OUT, f"{parent} exists", answer.describe())
            return
        if answer.status != "NXDOMAIN":
            c["domain_missing"].set(LIKELY, f"the nameservers for {parent} do not answer ({answer.status}): a broken "
                                    "or half-propagated delegation", *ev, answer.describe())
            c["typo"].set(POSSIBLE, "cannot tell while the domain's DNS fails")
            return
    c["domain_missing"].set(CONFIRMED, f"neither {ctx.server} nor its domain exists in DNS (not registered, expired, "
                            "or not propagated yet)", *ev)
    c["typo"].set(POSSIBLE, "the domain itself may be misspelt")


# --------------------------------------------------------------------------- 0x800CCC0E


def check_failed_to_connect(ctx: Context, causes: list[Cause]) -> None:
    c = by_cause(causes)
    res = resolve_server(ctx)
    if not res.addresses:
        ctx.notes.append(f"{ctx.server} does not resolve here ({res.error}): that is 0x800CCC0D's problem")
        return
    family = ctx.err.protocol if ctx.err.protocol in FAMILY_PORTS else "SMTP"
    if ctx.err.port is None:
        _unknown_port(ctx, c, port_check(ctx, FAMILY_PORTS[family]))
        return
    port = ctx.err.port
    ports = port_check(ctx, tuple(dict.fromkeys((port, *FAMILY_PORTS[family]))))
    mine = ports[port]
    others = [p for p in ports.values() if p.port != port and p.state == OPEN and p.banner_code in (None, 220)]
    open_list = ", ".join(str(p.port) for p in others)
    ev = (f"port {port}: {mine.state} ({mine.error or mine.banner})",
          *(f"port {p.port}: {p.state}" for p in ports.values() if p.port != port))
    hint = SOCKET_ERRORS.get(ctx.err.socket_error, "")
    if hint:
        ctx.notes.append(f"Outlook's socket error {ctx.err.socket_error}: {hint}")
    if mine.state == OPEN:
        for key in ("wrong_port", "server_down"):
            c[key].set(RULED_OUT, f"port {port} accepts connections from here", *ev)
        c["client_side"].set(LIKELY, f"port {port} works from here, so the connection fails between the client and "
                             "the server (client's ISP or firewall, antivirus, or a block of the client's IP)", *ev)
        c["firewall"].set(POSSIBLE, "not from here; the server's firewall may still block the client's IP "
                          "(csf -g CLIENT_IP)", *ev)
        implicit = mine.tls is not None and mine.tls.mode == "implicit"
        if ctx.err.ssl is True and not implicit and port not in IMPLICIT:
            c["ssl_mismatch"].set(CONFIRMED, f"Outlook uses SSL/TLS on port {port}, which speaks plain SMTP first "
                                  "(STARTTLS)", *ev)
        elif ctx.err.ssl is False and port in IMPLICIT:
            c["ssl_mismatch"].set(CONFIRMED, f"port {port} expects TLS from the first byte and Outlook's SSL is off",
                                  *ev)
        elif ctx.err.ssl is not None:
            c["ssl_mismatch"].set(RULED_OUT, f"the SSL setting fits port {port}", *ev)
        return
    c["client_side"].set(RULED_OUT, f"port {port} fails from here too ({mine.state})", *ev)
    c["ssl_mismatch"].set(RULED_OUT, "the TCP connection itself fails", *ev)
    if mine.state == FILTERED:
        c["firewall"].set(CONFIRMED, f"port {port} is filtered: packets are dropped (no answer in {ctx.timeout:g}s)",
                          *ev)
        c["server_down"].set(RULED_OUT if others else POSSIBLE, f"other mail ports answer: {open_list}" if others
                             else "nothing else answers either", *ev)
        if others:
            c["wrong_port"].set(LIKELY, f"port {port} is firewalled, but {open_list} accept connections: use one of "
                                "those", *ev)
        return
    if others:
        c["wrong_port"].set(CONFIRMED, f"port {port} is {mine.state} while {open_list} accept connections", *ev)
        c["server_down"].set(RULED_OUT, f"the mail server answers on {open_list}", *ev)
        c["firewall"].set(POSSIBLE if mine.state != REFUSED else RULED_OUT,
                          "a REJECT rule would look the same" if mine.state != REFUSED
                          else "the port answers with a refusal, not a drop", *ev)
    else:
        c["server_down"].set(CONFIRMED, "no mail port accepts connections", *ev)
        c["wrong_port"].set(RULED_OUT, "no other mail port is open either", *ev)
        c["firewall"].set(POSSIBLE, "every port refuses: a REJECT-all rule would look the same", *ev)


def _unknown_port(ctx: Context, c: dict[str, Cause], ports: dict[int, PortResult]) -> None:
    """The text does not say which port Outlook used: judge from the whole family of ports."""
    ctx.notes.append("the error text names no port: every usual port was checked (give --port to be exact)")
    by_state: dict[str, list[int]] = {}
    for p in ports.values():
        by_state.setdefault(p.state, []).append(p.port)
    ev = tuple(f"port {p.port}: {p.state} {p.banner or p.error}".rstrip() for p in ports.values())
    opened, dropped = by_state.get(OPEN, []), by_state.get(FILTERED, [])
    closed = [p for p in ports if p not in opened and p not in dropped]
    if not opened:
        c["client_side"].set(RULED_OUT, "no port accepts connections from here either", *ev)
        c["ssl_mismatch"].set(RULED_OUT, "the TCP connection itself fails", *ev)
        if dropped:
            c["firewall"].set(CONFIRMED, f"ports {', '.join(map(str, dropped))} are filtered (packets dropped)", *ev)
            c["server_down"].set(POSSIBLE, "cannot tell behind the firewall", *ev)
        else:
            c["server_down"].set(CONFIRMED, "every mail port refuses connections", *ev)
            c["firewall"].set(POSSIBLE, "a REJECT-all rule would look the same", *ev)
        return
    c["server_down"].set(RULED_OUT, f"ports {', '.join(map(str, opened))} accept connections", *ev)
    use = f"use port {opened[0]}" + (" with SSL/TLS" if opened[0] in IMPLICIT else " with STARTTLS or Auto")
    if dropped:
        c["firewall"].set(LIKELY, f"ports {', '.join(map(str, dropped))} are filtered: if Outlook uses one of them, "
                          f"that is the cause; {use}", *ev)
    else:
        c["firewall"].set(POSSIBLE, "no port is filtered from here; the client's network may still block one", *ev)
    if dropped or closed:
        c["wrong_port"].set(POSSIBLE, f"ports {', '.join(map(str, dropped + closed))} do not work; {use}", *ev)
    else:
        c["wrong_port"].set(RULED_OUT, "every usual port accepts connections", *ev)
    c["client_side"].set(LIKELY if not dropped else POSSIBLE,
                         f"ports {', '.join(map(str, opened))} work from here: check the client's network", *ev)


# --------------------------------------------------------------------------- 0x800CCC78


def check_rejected_sender(ctx: Context, causes: list[Cause]) -> None:
    c = by_cause(causes)
    env = envelope_check(ctx, bad_helo=CLIENT_HELO)
    if env is None:
        return
    ev = (f"{env.address}:{env.port} {env.state} {env.error}".strip(), *env.transcript)
    if env.state != OPEN or env.banner_code != 220:
        ctx.notes.append(f"the SMTP session did not get past the greeting ({env.state}, {env.banner or env.error})")
        return
    if env.bad_helo is not None:
        if env.bad_helo.code == 250:
            c["helo_rejected"].set(RULED_OUT, f"the server accepts the bare client name {CLIENT_HELO}", *ev)
        elif env.bad_helo.code is not None:
            c["helo_rejected"].set(CONFIRMED, f"the server rejects the bare client name: {reply_text(env.bad_helo)}",
                                   *ev)
    mail = env.mail
    if mail is None or mail.code is None:
        ctx.notes.append("no answer to MAIL FROM")
        return
    if mail.code < 400:
        for key in ("auth_required_for_sender", "starttls_required", "sender_address"):
            c[key].set(RULED_OUT, f"MAIL FROM without authentication is accepted: {reply_text(mail)}", *ev)
        c["sender_mismatch"].set(POSSIBLE, "needs the client's credentials to check")
        return
    text = f"{mail.code} {mail.text}"
    if mail.code == 530 or re.search(r"starttls|\btls\b", mail.text, re.I):
        c["starttls_required"].set(CONFIRMED, f"the server wants TLS before MAIL: {text}", *ev)
        c["auth_required_for_sender"].set(POSSIBLE, "after STARTTLS the server may still want AUTH", *ev)
        return
    c["starttls_required"].set(RULED_OUT, f"MAIL FROM answer is not about TLS: {text}", *ev)
    auth_talk = re.search(r"auth|relay|login", mail.text, re.I)
    if env.auth_anywhere or auth_talk:
        offered = " ".join(env.auth_anywhere) or "none listed"
        c["auth_required_for_sender"].set(CONFIRMED, f"an unauthenticated MAIL FROM is refused ({text}) and the "
                                          f"server offers AUTH ({offered}): Outlook must log in", *ev)
        c["sender_address"].set(RULED_OUT if auth_talk else POSSIBLE, "the refusal is about authentication", *ev)
    else:
        c["sender_address"].set(CONFIRMED, f"the sender is refused and the server offers no AUTH: {text}", *ev)
        c["auth_required_for_sender"].set(RULED_OUT, "the server offers no AUTH at all", *ev)


# --------------------------------------------------------------------------- 0x800CCC69


def check_550(ctx: Context, causes: list[Cause]) -> None:
    c = by_cause(causes)
    rcpts = tuple(r for r in (ctx.err.recipient, RELAY_TEST) if r)
    env = envelope_check(ctx, rcpts=rcpts)
    if env is None:
        return
    ev = (f"{env.address}:{env.port} {env.state} {env.error}".strip(), *env.transcript)
    if env.state != OPEN or env.mail is None or env.mail.code is None:
        ctx.notes.append(f"the SMTP session did not reach MAIL FROM ({env.state}, {env.banner or env.error})")
        return
    if env.mail.code >= 400:
        c["sender_blocked"].set(CONFIRMED, f"the sender is refused before any recipient: {reply_text(env.mail)}", *ev)
        c["relay_needs_auth"].set(POSSIBLE, "the sender refusal comes first", *ev)
        return
    c["sender_blocked"].set(RULED_OUT, f"the sender is accepted: {reply_text(env.mail)}", *ev)
    replies = {r.command[9:-1]: r for r in env.rcpts}
    relay = replies.get(RELAY_TEST)
    if relay is not None and relay.code is not None:
        if relay.code >= 500:
            c["relay_needs_auth"].set(CONFIRMED, f"relaying without authentication is refused: {reply_text(relay)} "
                                      f"(AUTH offered: {' '.join(env.auth_anywhere) or 'none'})", *ev)
        elif relay.code < 400:
            c["relay_needs_auth"].set(RULED_OUT, "the server relays for this client without authentication "
                                      "(an open relay from here: check relay_from_hosts)", *ev)
    rcpt = replies.get(ctx.err.recipient) if ctx.err.recipient else None
    if rcpt is not None and rcpt.code is not None:
        if rcpt.code >= 500 and re.search(r"no such|unknown|does not exist|unavailable|invalid", rcpt.text, re.I):
            c["recipient_unknown"].set(CONFIRMED, f"the recipient is refused: {reply_text(rcpt)}", *ev)
        elif rcpt.code < 400:
            c["recipient_unknown"].set(RULED_OUT, f"the recipient is accepted: {reply_text(rcpt)}", *ev)


# --------------------------------------------------------------------------- 0x800CCC67


def check_421(ctx: Context, causes: list[Cause]) -> None:
    c = by_cause(causes)
    port = smtp_port(ctx)
    ports = port_check(ctx, tuple(dict.fromkeys((port, 587, 465))))
    if not ports:
        ctx.notes.append(f"{ctx.server} does not resolve here: no live check")
        return
    mine = ports[port]
    alt = [p for p in ports.values() if p.port != port and p.state == OPEN and p.banner_code in (220, None)]
    alt_text = ", ".join(str(p.port) for p in alt) or "none"
    ev = tuple(f"port {p.port}: {p.state} {p.banner or p.error}".rstrip() for p in ports.values())
    if ctx.err.server and ctx.err.server.lower() != ctx.server.lower():
        c["outlook_misconfigured"].set(CONFIRMED, f"Outlook sends to {ctx.err.server}, not to {ctx.server}", *ev)
    elif ctx.err.server:
        c["outlook_misconfigured"].set(RULED_OUT, "Outlook uses this server's name", *ev)
    if mine.state == OPEN and mine.banner_code is not None and 400 <= mine.banner_code < 500:
        c["server_refuses"].set(CONFIRMED, f"the server itself greets with \"{mine.banner_code} {mine.banner}\"", *ev)
        c["isp_blocks_25"].set(RULED_OUT, "the 421 comes from the server", *ev)
        c["local_antivirus"].set(RULED_OUT, "the 421 comes from the server", *ev)
        return
    if mine.state == OPEN and mine.banner_code == 220:
        c["server_refuses"].set(RULED_OUT, f"port {port} greets normally from here: {mine.banner}", *ev)
        verdict = LIKELY if port == 25 else POSSIBLE
        c["isp_blocks_25"].set(verdict, f"the server greets with 220 on port {port}, so the 421 Outlook got came "
                               f"from something in between; submission ports open: {alt_text}", *ev)
        c["local_antivirus"].set(POSSIBLE, "a mail scanner on the PC would also produce a 421 of its own", *ev)
        return
    if mine.state == OPEN:
        ctx.notes.append(f"port {port} accepted the connection but sent no usable greeting ({mine.error})")
        return
    if mine.state in (FILTERED, REFUSED):
        c["server_refuses"].set(RULED_OUT, f"port {port} is {mine.state}: nothing greets at all", *ev)
        c["local_antivirus"].set(LIKELY, f"port {port} is {mine.state}; a proxy on the PC (antivirus) turns the "
                                 "failed connection into a 421 of its own", *ev)
        c["isp_blocks_25"].set(POSSIBLE, "the port fails from here too: check the server's firewall first", *ev)


CHECKS: dict[str, Callable[[Context, list[Cause]], None]] = {
    "0x800CCC0D": check_cant_find_host,
    "0x800CCC0E": check_failed_to_connect,
    "0x800CCC78": check_rejected_sender,
    "0x800CCC69": check_550,
    "0x800CCC67": check_421,
    "0x800CCC01": check_cert_name,
    "0x800CCC02": check_cert_date,
    "0x800CCC1A": check_secure_connect,
}


def diagnose(code: str, err: OutlookError, server: str | None, user: str = "", dns_server: str | None = None,
             timeout: float = 3.0) -> tuple[list[Cause], list[str]]:
    """The causes of CODE with verdicts: from the pasted response, then (with SERVER) from live checks."""
    causes = causes_for(code)
    apply_response_hints(code, causes, err.response)
    notes: list[str] = []
    base = checked_as(code)
    protocol = kb.load("outlook_codes").by_id(code).get("protocol")
    if protocol and not err.protocol:
        err = replace(err, protocol=str(protocol))
    if server and base in CHECKS:
        ctx = Context(err, server, user, dns_server, timeout)
        CHECKS[base](ctx, causes)
        notes = ctx.notes
    elif server:
        notes.append(f"maildoctor has no live checks for {code}; see its meaning and hint")
    return sorted(causes, key=lambda c: VERDICT_ORDER[c.verdict]), notes


def best(causes: list[Cause]) -> Cause | None:
    """The diagnosis: the first confirmed cause, else the first likely one."""
    for verdict in (CONFIRMED, LIKELY):
        for c in causes:
            if c.verdict == verdict:
                return c
    return None


def with_port(err: OutlookError, port: int | None) -> OutlookError:
    return replace(err, port=port) if port else err
