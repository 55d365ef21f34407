"""Findings from a port probe: what each port's state, TLS and AUTH mean for mail clients (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from maildoctor.model import Evidence, Finding, Severity
from maildoctor.net.probe import FILTERED, OPEN, REFUSED, RESET, PortResult, Resolution

SUBMISSION_PORTS = {465, 587}
OLD_TLS = {"TLSv1", "TLSv1.1", "SSLv3"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def describe_tls(r: PortResult) -> str:
    t = r.tls
    if t is None:
        return "STARTTLS not offered" if r.auth is not None else ""
    if not t.ok:
        return f"TLS failed: {t.error or t.verify_error}"
    cert = t.cert
    trust = "trusted" if t.chain_verified else (t.verify_error or "not verified")
    name = "" if t.hostname_match is None else (", name matches" if t.hostname_match else ", NAME MISMATCH")
    expiry = f", expires in {cert.days_left} days" if cert and cert.days_left is not None else ""
    return f"{t.mode} {t.version} {trust}{name}{expiry}"


def describe_auth(r: PortResult) -> str:
    if r.auth is None:
        return ""
    before = " ".join(r.auth.before_tls) or "-"
    after = " ".join(r.auth.after_tls) or "-"
    return f"AUTH before TLS: {before}; after TLS: {after}"


def _evidence(r: PortResult, parts: str = "state banner dialog caps cert") -> tuple[Evidence, ...]:
    """Probe evidence for R; PARTS picks what a finding needs (state, banner, dialog, caps, cert)."""
    src = f"{r.address}:{r.port}"
    ev = []
    if "state" in parts:
        ev.append(Evidence("probe", f"{r.state} in {_ms(r.seconds)}" + (f": {r.error}" if r.error else ""), src))
    if "banner" in parts and r.banner:
        ev.append(Evidence("probe", f"banner: {r.banner}", src))
    if "dialog" in parts:
        ev.extend(Evidence("probe", line, src) for line in r.transcript)
    if "caps" in parts and r.capabilities:
        ev.append(Evidence("probe", "capabilities: " + ", ".join(r.capabilities), src))
    if "caps" in parts and r.capabilities_tls:
        ev.append(Evidence("probe", "capabilities after TLS: " + ", ".join(r.capabilities_tls), src))
    if "cert" in parts and r.tls:
        t = r.tls
        ev.append(Evidence("probe", f"TLS {t.mode}: {t.version or '-'} {t.cipher}".rstrip()
                           + (f"; verification: {t.verify_error}" if t.verify_error else "")
                           + (f"; {t.error}" if t.error else ""), src))
        if t.cert:
            c = t.cert
            ev.append(Evidence("probe", f"certificate: subject {c.subject}; issuer {c.issuer}; names "
                                        f"{', '.join(c.names)}; valid {c.not_before} - {c.not_after}", src))
        for i, c in enumerate(t.chain[1:], 1):
            ev.append(Evidence("probe", f"chain #{i}: subject {c.subject}; issuer {c.issuer}; until {c.not_after}",
                               src))
    return tuple(ev)


def _port_finding(r: PortResult) -> Finding:
    label = f"{r.port}/{r.protocol}" if r.protocol != "unknown" else str(r.port)
    subject = f"{r.address}:{r.port}"
    if r.state == FILTERED:
        return Finding("ports.filtered", Severity.WARNING, f"Port {label} is filtered", r.error or "no answer",
                       _evidence(r), ("Check the firewall on the server (csf -g IP, iptables -S) and on the client's "
                                      "network; a DROP rule makes clients wait until they time out.",), subject)
    if r.state == REFUSED:
        return Finding("ports.refused", Severity.INFO, f"Port {label} is closed (connection refused)",
                       "Nothing listens on this port, or a REJECT rule answers for it.", _evidence(r),
                       (f"If clients should use port {r.port}, make the mail server listen on it "
                        "(Exim: daemon_smtp_ports / tls_on_connect_ports).",), subject)
    if r.state == RESET:
        return Finding("ports.reset", Severity.WARNING, f"Port {label} resets the connection",
                       "The connection was accepted and then reset before any greeting (TCP wrappers, a connection "
                       "limit, or a proxy that refuses this client).", _evidence(r),
                       ("Check the server's connection limits and TCP wrappers (/etc/hosts.allow, /etc/hosts.deny) "
                        "and whether this client's IP is blocked (csf -g IP).",), subject)
    parts = [p for p in (r.banner, describe_tls(r), describe_auth(r)) if p]
    return Finding("ports.open", Severity.OK, f"Port {label} is open ({_ms(r.seconds)})", "\n".join(parts),
                   _evidence(r), (), subject)


def _tls_findings(r: PortResult) -> list[Finding]:
    t, subject, out = r.tls, f"{r.address}:{r.port}", []
    if t is None:
        return []
    ev = _evidence(r, "cert")
    if not t.ok:
        out.append(Finding("ports.tls_failed", Severity.WARNING, f"TLS on port {r.port} fails",
                           t.error or t.verify_error, ev,
                           ("Check the MTA's certificate and key (Exim: tls_certificate, tls_privatekey; its panic "
                            "log) and that TLS 1.2 or 1.3 is enabled.",), subject))
        return out
    cert = t.cert
    if cert and cert.days_left is not None and cert.days_left < 0:
        out.append(Finding("ports.tls_expired", Severity.CRITICAL, f"The certificate on port {r.port} has expired",
                           f"It expired on {cert.not_after}; Outlook shows 0x800CCC02 and other clients refuse it.",
                           ev, ("Renew the certificate (cPanel: AutoSSL; otherwise certbot) and restart the MTA.",),
                           subject))
    elif cert and cert.days_left is not None and cert.days_left < 14:
        out.append(Finding("ports.tls_expiring", Severity.WARNING,
                           f"The certificate on port {r.port} expires in {cert.days_left} days",
                           f"Valid until {cert.not_after}.", ev, ("Renew it before it expires.",), subject))
    if cert and cert.self_signed:
        out.append(Finding("ports.tls_self_signed", Severity.WARNING,
                           f"Port {r.port} presents a self-signed certificate",
                           f"Subject and issuer are both '{cert.subject}'. Clients warn about it or refuse it.",
                           ev, ("Install a certificate from a public CA (cPanel AutoSSL / Let's Encrypt) for the "
                                "name clients use.",), subject))
    elif t.chain_verified is False:
        alone = len(t.chain) == 1
        out.append(Finding("ports.tls_untrusted", Severity.WARNING,
                           f"The certificate on port {r.port} does not verify: {t.verify_error}",
                           "The server sends only its own certificate: the intermediate certificate is missing."
                           if alone else "An intermediate certificate is missing or the CA is not trusted.", ev,
                           ("Serve the full chain (certificate followed by the intermediates).",), subject))
    if t.hostname_match is False and cert:
        out.append(Finding("ports.tls_name_mismatch", Severity.WARNING,
                           f"The certificate on port {r.port} is not valid for the name probed",
                           f"It names {', '.join(cert.names) or 'nothing'}; Outlook shows 0x800CCC01.", ev,
                           ("Have clients use a name the certificate covers, or add the name to the certificate.",),
                           subject))
    if t.version in OLD_TLS:
        out.append(Finding("ports.tls_old_protocol", Severity.WARNING, f"Port {r.port} negotiated {t.version}",
                           "TLS 1.0/1.1 are disabled in current clients.", ev,
                           ("Enable TLS 1.2 and 1.3 in the MTA (Exim: tls_require_ciphers / openssl_options).",),
                           subject))
    return out


def _auth_findings(r: PortResult) -> list[Finding]:
    if r.auth is None or r.state != OPEN:
        return []
    subject, ev, out = f"{r.address}:{r.port}", _evidence(r, "caps"), []
    clear = [m for m in r.auth.before_tls if m in ("PLAIN", "LOGIN", "USER", "LOGIN-COMMAND")]
    if clear and (r.tls is None or r.tls.mode != "implicit"):
        out.append(Finding("ports.auth_in_clear", Severity.WARNING,
                           f"Port {r.port} offers password login before TLS ({' '.join(clear)})",
                           "Passwords can cross the network unencrypted.", ev,
                           ("Advertise AUTH only after STARTTLS (Exim: auth_advertise_hosts = ${if eq{$tls_in_cipher}"
                            "{}{}{*}}).",), subject))
    elif r.auth.after_tls and not r.auth.before_tls and r.starttls_offered:
        out.append(Finding("ports.auth_after_tls_only", Severity.INFO,
                           f"Port {r.port} offers AUTH only after STARTTLS",
                           "Clients must enable STARTTLS (Outlook: encrypted connection 'STARTTLS' or 'Auto') to log "
                           "in; without it they get 'authentication not supported' or relay refusals.", ev, (),
                           subject))
    tls_fine = r.tls is None or r.tls.ok
    if (r.port in SUBMISSION_PORTS and r.protocol == "smtp" and r.banner_code == 220 and tls_fine
            and not r.auth.before_tls and not r.auth.after_tls):
        out.append(Finding("ports.submission_no_auth", Severity.WARNING,
                           f"Submission port {r.port} offers no AUTH",
                           "Mail clients cannot log in to send here.", ev,
                           ("Enable an authenticator (Exim: plain/login authenticators via Dovecot).",), subject))
    return out


def analyze_ports(resolution: Resolution, results: Sequence[PortResult]) -> list[Finding]:
    """One finding per port plus the TLS, AUTH and greeting problems each one shows."""
    out: list[Finding] = []
    dns_ev = tuple(Evidence("dns", line, resolution.host) for line in resolution.evidence)
    if not resolution.addresses:
        out.append(Finding("ports.unresolved", Severity.CRITICAL, f"{resolution.host} does not resolve",
                           resolution.error, dns_ev,
                           ("Check the name for typos, that the domain is registered and its DNS zone has an A "
                            "record for it (dig +trace NAME).",), resolution.host))
        return out
    if resolution.mx:
        mx = ", ".join(f"{p} {h}" for p, h in resolution.mx)
        out.append(Finding("ports.mx", Severity.INFO, f"{resolution.host} is a mail domain: MX {mx}",
                           "The MX hosts are listed only; probe one by naming it (maildoctor ports MXHOST).",
                           dns_ev, (), resolution.host))
    for r in results:
        out.append(_port_finding(r))
        if r.banner_code is not None and r.banner_code != 220:
            out.append(Finding("ports.greeting_refused", Severity.CRITICAL,
                               f"Port {r.port} greets with {r.banner_code}: {r.banner}",
                               "The server (or a proxy in between) refuses this client before any command "
                               "(Outlook shows 0x800CCC67 for a 421).", _evidence(r, "banner"),
                               ("Read the server log for this client's IP: connection limits (Exim "
                                "smtp_accept_max_per_host), a block list, or an overloaded server.",),
                               f"{r.address}:{r.port}"))
        out.extend(_tls_findings(r))
        out.extend(_auth_findings(r))
    return out
