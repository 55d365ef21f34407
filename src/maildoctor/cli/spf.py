"""`maildoctor spf check|lint|build`: evaluate SPF with a trace, lint a record, build one."""

from __future__ import annotations

import lzma
import re
import socket

import click
from rich.console import Console

from maildoctor.cli.common import dns_server_option, emit, format_option
from maildoctor.errors import InputError, UsageError
from maildoctor.net.dns import make_resolver
from maildoctor.spf.build import POLICIES, build_record, parse_networks
from maildoctor.spf.evaluator import check_host, domain_problem, parse_ip
from maildoctor.spf.lint import lint_domain, render_tree
from maildoctor.spf.logline import SpfRejection, find_spf_rejection, parse_spf_rejection
from maildoctor.spf.observed import read_observed_senders
from maildoctor.spf.report import analyze_result, render_check

_DOMAIN_CHARS = re.compile(r"^[A-Za-z0-9_.-]+$")


def _domain_arg(domain: str, option: str = "DOMAIN") -> str:
    """A domain given on the command line, checked before any DNS query is sent."""
    name = domain.strip().rstrip(".")
    problem = domain_problem(name) or (None if _DOMAIN_CHARS.match(name) else "not a domain name")
    if problem:
        raise UsageError(f"{option} {domain!r}: {problem}")
    return name


@click.group("spf")
def command() -> None:
    """SPF (RFC 7208): evaluate with a full trace, lint a record, build a record from real senders."""


def _scan_file(path: str) -> SpfRejection | None:
    """The first SPF rejection in a log or bounce (plain or compressed, '-' for stdin), read as a stream."""
    from maildoctor.logs.read import open_binary

    try:
        with open_binary(path) as fh:
            return find_spf_rejection(raw.decode("utf-8", errors="replace").rstrip("\r\n") for raw in fh)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc


def _receiver() -> str:
    return socket.gethostname() or "localhost"


@command.command("check")
@click.argument("ip", required=False)
@click.argument("sender", required=False)
@click.option("--helo", default="", help="HELO/EHLO name; an empty SENDER ('' or '<>') checks the HELO identity.")
@click.option("--record", default=None, metavar='"v=spf1 ..."',
              help="Test this draft record for the sender's domain instead of the published one.")
@click.option("--from-line", "from_line", default=None, metavar="TEXT",
              help="Take IP, sender and HELO from this log line or bounce diagnostic.")
@click.option("--from-file", "from_file", default=None, metavar="PATH",
              help="Take IP, sender and HELO from the first SPF rejection in this log or bounce ('-': stdin).")
@click.option("--identity", type=click.Choice(["mailfrom", "helo"]), default="mailfrom", show_default=True,
              help="Which identity to check: MAIL FROM (postmaster@HELO when empty) or the HELO name itself.")
@click.option("--receiver", default=None, help="Receiving host name for the header lines (default: this host).")
@dns_server_option
@format_option
def check(ip: str | None, sender: str | None, helo: str, record: str | None, from_line: str | None,
          from_file: str | None, identity: str, receiver: str | None, dns_server: str | None, fmt: str) -> int:
    """Evaluate SPF for IP sending as SENDER, showing every DNS query and why the result is what it is."""
    found: SpfRejection | None = None
    if from_line is not None or from_file is not None:
        if from_line is not None and from_file is not None:
            raise UsageError("give either --from-line or --from-file, not both")
        found = parse_spf_rejection(from_line) if from_line is not None else _scan_file(str(from_file))
        if found is None:
            raise InputError("no SPF rejection with a client IP found in the given text")
        ip = ip or found.ip
        sender = sender if sender is not None else found.sender
        helo = helo or found.helo
    if not ip:
        raise UsageError("give IP and SENDER, or --from-line/--from-file with an SPF rejection")
    try:
        parse_ip(ip)
    except ValueError as exc:
        raise UsageError(f"{ip!r} is not an IPv4 or IPv6 address") from exc
    sender = sender or ""
    if identity == "helo":
        if not helo:
            raise UsageError("--identity helo needs --helo NAME")
        sender = ""  # RFC 7208 §2.3: the HELO check uses postmaster@HELO
    if not sender.strip("<> ") and not helo:
        raise UsageError("an empty SENDER checks the HELO identity: give --helo NAME")
    rcv = receiver or _receiver()
    resolver = make_resolver(dns_server)
    res = check_host(resolver, ip, sender, helo, record=record, receiver=rcv)
    finding = analyze_result(res)
    data = res.to_dict(rcv)
    if found is not None:
        data["source_line"] = found.line

    def header(console: Console) -> None:
        if found is not None:
            console.print(f"from: {found.line}\n", markup=False)
        render_check(console, res, rcv)

    return emit("spf check", fmt, [finding], data, text=header)


@command.command("lint")
@click.argument("domain")
@click.option("--record", default=None, metavar='"v=spf1 ..."', help="Lint this draft record for DOMAIN instead.")
@dns_server_option
@format_option
def lint(domain: str, record: str | None, dns_server: str | None, fmt: str) -> int:
    """Lint the SPF record of DOMAIN: syntax with positions, the lookup tree, voids, policy, size."""
    domain = _domain_arg(domain)
    report = lint_domain(make_resolver(dns_server), domain, record)

    def header(console: Console) -> None:
        console.print(f"[bold]SPF lint[/] {report.domain}", markup=True)
        if report.record:
            console.print(f"record: {report.record}", markup=False)
            console.print()
            for line in render_tree(report.tree):
                console.print(line, markup=False)
        console.print()

    return emit("spf lint", fmt, report.findings, report.to_dict(), text=header)


@command.command("build")
@click.argument("domain")
@click.option("--ip", "ips", multiple=True, metavar="ADDR[/LEN]", help="An address or network that sends (repeatable).")
@click.option("--include", "includes", multiple=True, metavar="DOMAIN", help="A provider's SPF domain (repeatable).")
@click.option("--mx", is_flag=True, help="The domain's MX hosts send mail.")
@click.option("--a", "a_flag", is_flag=True, help="The domain's own A/AAAA address sends mail.")
@click.option("--from-log", "logs", multiple=True, metavar="PATH",
              help="Add the IPs that sent mail for DOMAIN in this log (Exim/Postfix, .gz/.bz2/.xz; repeatable).")
@click.option("--min-messages", default=1, show_default=True, type=click.IntRange(min=1),
              help="Ignore logged senders with fewer messages than this.")
@click.option("--flatten", is_flag=True, help="Replace includes by their addresses when over 10 lookups.")
@click.option("--policy", type=click.Choice(sorted(POLICIES)), default="softfail", show_default=True,
              help="What the record says about everyone else (~all, -all, ?all).")
@dns_server_option
@format_option
def build(domain: str, ips: tuple[str, ...], includes: tuple[str, ...], mx: bool, a_flag: bool, logs: tuple[str, ...],
          min_messages: int, flatten: bool, policy: str, dns_server: str | None, fmt: str) -> int:
    """Build a minimal valid SPF record for DOMAIN and check it against the senders seen in the logs."""
    domain = _domain_arg(domain)
    includes = tuple(_domain_arg(inc, "--include") for inc in includes)
    if not (ips or includes or mx or a_flag or logs):
        raise UsageError("nothing to build from: give --ip, --include, --mx, --a or --from-log")
    try:
        parse_networks(ips)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    observed = read_observed_senders(logs, domain) if logs else None
    if observed is not None:
        for ip in [ip for ip, n in observed.senders.items() if n < min_messages]:
            del observed.senders[ip]
    res = build_record(make_resolver(dns_server), domain, ips=ips, includes=includes, mx=mx, a=a_flag,
                       observed=observed, flatten=flatten, policy=policy)
    data = res.to_dict()
    if observed is not None:
        data["observed"] = {"lines": observed.lines, "senders": dict(observed.senders),
                            "rejected_not_added": dict(observed.rejected),
                            "ignored_non_global": dict(observed.ignored)}

    def header(console: Console) -> None:
        console.print(f"SPF record for {res.domain} ({res.lookups}/10 lookups):\n", markup=False)
        console.print(f"  {res.record}\n\n  {res.zone_line}\n", markup=False)
        if observed is not None:
            console.print(f"senders seen in the logs ({observed.lines} lines):", markup=False)
            for row in res.verification:
                n = row.get("messages")
                count = f"{n:>6} msg{'s' if n != 1 else ' '}" if n is not None else " " * 11
                console.print(f"  {row['ip']:<40} {count}  {row['origin']:<8} -> {row['result']}", markup=False)
            if observed.rejected:
                shown = ", ".join(f"{ip} ({n}x)" for ip, n in observed.rejected.most_common(10))
                console.print(f"  refused at SMTP time, not added (forged? add with --ip if legitimate): {shown}",
                              markup=False)
            if observed.ignored:
                console.print(f"  ignored (not globally routable): {', '.join(sorted(observed.ignored))}",
                              markup=False)
            console.print()

    return emit("spf build", fmt, res.findings, data, text=header)
