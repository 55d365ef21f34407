"""Doctor check: SPF rejections in the mail log (offline) and the SPF records of the local domains (online).

Rejections of OUR domains' mail (the sender domain is local, or a remote server refused our
delivery for SPF) are problems: mail is being lost. Rejections of incoming forged mail are the
receiving side doing its job and are reported as information, with the command that explains each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.errors import MaildoctorError
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.spf.logline import SpfRejection, parse_spf_rejection

MAX_LINES = 2_000_000  # per check run; the prefilter makes each line cheap
MAX_DOMAINS = 25  # local domains linted online
_PREFILTER = re.compile(rb"spf|sender policy", re.IGNORECASE)
_LOG_NAMES = ("var/log/exim_mainlog", "var/log/exim4/mainlog", "var/log/maillog", "var/log/mail.log")


@dataclass
class _Group:
    count: int = 0
    first: str = ""
    last: str = ""
    sample: SpfRejection | None = None
    evidence: list[Evidence] = field(default_factory=list)


def _log_files(root: Path) -> list[Path]:
    try:
        from maildoctor.logs.read import default_log_paths

        return default_log_paths(root)
    except (ImportError, OSError):
        return [root / n for n in _LOG_NAMES if (root / n).is_file()]


def scan_rejections(root: Path, paths: list[Path], local: frozenset[str]) -> tuple[dict[tuple[str, str, bool], _Group],
                                                                                 int]:
    """Group SPF rejection lines by (sender domain, client IP, ours?)."""
    from maildoctor.logs.read import open_binary

    groups: dict[tuple[str, str, bool], _Group] = {}
    seen = 0
    for path in paths:
        with open_binary(path) as fh:
            for number, raw in enumerate(fh, 1):
                seen += 1
                if seen > MAX_LINES:
                    return groups, seen
                if not _PREFILTER.search(raw):
                    continue
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                rej = parse_spf_rejection(line)
                if rej is None:
                    continue
                domain = rej.sender.rpartition("@")[2].lower() or rej.helo.lower()
                ours = domain in local or " ** " in line or " == " in line  # our delivery refused remotely
                g = groups.setdefault((domain, rej.ip, ours), _Group())
                g.count += 1
                g.first = g.first or line[:19]
                g.last = line[:19]
                g.sample = g.sample or rej
                if len(g.evidence) < 3:
                    where = "/" + str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
                    g.evidence.append(Evidence("log", line, source=where, line=number))
    return groups, seen


def _rejection_findings(groups: dict[tuple[str, str, bool], _Group]) -> list[Finding]:
    findings: list[Finding] = []
    for (domain, ip, ours), g in sorted(groups.items(), key=lambda kv: -kv[1].count):
        if not ours:
            continue
        s = g.sample
        assert s is not None
        findings.append(Finding(
            id="spf.log.own_domain_rejected", severity=Severity.CRITICAL,
            title=f"Mail from {domain} sent by {ip} is rejected for SPF ({g.count}x, {g.first} .. {g.last})",
            explanation=f"The SPF record of {domain} does not allow {ip}; receivers reject or junk this mail.",
            evidence=tuple(g.evidence),
            fix=(f"maildoctor spf check {ip} {s.sender or 'postmaster@' + domain} --format text",
                 f"maildoctor spf build {domain} --mx --a --from-log /var/log/exim_mainlog"),
            subject=domain, data={"ip": ip, "count": g.count},
        ))
    foreign = [(k, g) for k, g in groups.items() if not k[2]]
    if foreign:
        total = sum(g.count for _, g in foreign)
        top = sorted(foreign, key=lambda kv: -kv[1].count)[:5]
        sample = top[0][1].sample
        assert sample is not None
        findings.append(Finding(
            id="spf.log.incoming_rejected", severity=Severity.INFO,
            title=f"{total} incoming messages rejected for SPF from {len(foreign)} sender/IP pairs",
            explanation="Top: " + "; ".join(f"{d} from {ip} ({g.count}x)" for (d, ip, _), g in top)
            + ". Usually forged mail; if a sender is legitimate, its domain's SPF record must list that IP.",
            evidence=tuple(e for _, g in top for e in g.evidence[:1]),
            fix=(f"maildoctor spf check {sample.ip} {sample.sender or 'postmaster@' + sample.helo}",),
            data={"count": total},
        ))
    return findings


def _lint_findings(ctx: DoctorContext, local: frozenset[str]) -> list[Finding]:
    from maildoctor.net.dns import make_resolver
    from maildoctor.spf.lint import lint_domain

    resolver = make_resolver(ctx.dns_server, timeout=3.0)
    out: list[Finding] = []
    silent = 0
    for domain in sorted(local)[:MAX_DOMAINS]:
        if resolver.query(domain, "TXT").status == "TIMEOUT":
            silent += 1
            if silent >= 2:  # the resolver itself is not answering: do not wait 3 s per domain
                out.append(Finding(id="spf.lint.could_not_run", severity=Severity.UNKNOWN,
                                   title="DNS does not answer: SPF records of the local domains not checked",
                                   explanation=f"TXT queries for {domain} and another domain timed out.",
                                   evidence=(Evidence("dns", f"{domain} TXT -> TIMEOUT"),),
                                   fix=("Check /etc/resolv.conf or pass --dns-server HOST.",)))
                break
            continue
        silent = 0
        report = lint_domain(resolver, domain)
        out += [f for f in report.findings if f.severity.is_problem or f.severity == Severity.UNKNOWN]
    return out


@doctor_check("spf")
def check_spf(ctx: DoctorContext) -> list[Finding]:
    try:
        from maildoctor.server.accounts import read_localdomains

        local = read_localdomains(ctx.root)
    except (ImportError, OSError):
        local = frozenset()
    findings: list[Finding] = []
    paths = _log_files(ctx.root)
    if paths:
        groups, _ = scan_rejections(ctx.root, paths, local)
        findings += _rejection_findings(groups)
    if not ctx.offline and local:
        try:
            findings += _lint_findings(ctx, local)
        except MaildoctorError as exc:
            findings.append(Finding(id="spf.lint.could_not_run", severity=Severity.UNKNOWN,
                                    title="SPF records of the local domains could not be checked",
                                    explanation=str(exc), evidence=(Evidence("text", str(exc)),)))
    return findings

