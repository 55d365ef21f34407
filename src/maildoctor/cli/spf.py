"""`maildoctor spf check|lint|build`: evaluate SPF with a trace, lint a record, build one."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import click
from rich.console import Console

from maildoctor.cli.common import dns_server_option, emit, format_option
from maildoctor.errors import InputError, UsageError
from maildoctor.net.dns import make_resolver
from maildoctor.spf.evaluator import check_host, parse_ip
from maildoctor.spf.logline import SpfRejection, parse_spf_rejection
from maildoctor.spf.report import analyze_result, render_check


@click.group("spf")
def command() -> None:
    """SPF (RFC 7208): evaluate with a full trace, lint a record, build a record from real senders."""


def _read_text(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc


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
@click.option("--receiver", default=None, help="Receiving host name for the header lines (default: this host).")
@dns_server_option
@format_option
def check(ip: str | None, sender: str | None, helo: str, record: str | None, from_line: str | None,
          from_file: str | None, receiver: str | None, dns_server: str | None, fmt: str) -> int:
    """Evaluate SPF for IP sending as SENDER, showing every DNS query and why the result is what it is."""
    found: SpfRejection | None = None
    if from_line is not None or from_file is not None:
        if from_line is not None and from_file is not None:
            raise UsageError("give either --from-line or --from-file, not both")
        source = from_line if from_line is not None else _read_text(str(from_file))
        found = parse_spf_rejection(source)
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
