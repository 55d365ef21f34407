"""`maildoctor ports HOST`: resolution, then per port: state, banner, TLS and AUTH."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape

from maildoctor.cli.common import dns_server_option, emit, format_option
from maildoctor.errors import UsageError
from maildoctor.net.portfindings import analyze_ports, describe_auth, describe_tls
from maildoctor.net.probe import (
    DEFAULT_PORTS,
    DEFAULT_TIMEOUT,
    KNOWN_PORTS,
    lookup_host,
    parse_ports,
    probe_ports,
    total_cap,
)


@click.command("ports")
@click.argument("host")
@click.option("--ports", "ports_text", default=",".join(map(str, DEFAULT_PORTS)), show_default=True,
              help="Ports to probe: a comma list, ranges allowed (at most 64).")
@click.option("--timeout", type=click.FloatRange(0.2, 30.0), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds per step (connect, each reply, TLS handshake); each port stops after 5 steps.")
@click.option("--helo", default="", help="Name to send in EHLO (default: this host's name).")
@click.option("--address", default=None, help="Which of HOST's addresses to probe (default: the first).")
@dns_server_option
@format_option
def command(host: str, ports_text: str, timeout: float, helo: str, address: str | None, dns_server: str | None,
            fmt: str) -> int:
    """Probe the mail ports of HOST (only HOST's own addresses are contacted, never its MX hosts)."""
    host = host.strip().rstrip(".")
    if not host or any(c.isspace() for c in host) or "/" in host:
        raise UsageError(f"{host!r} is not a host name or an address")
    ports = parse_ports(ports_text)
    resolution = lookup_host(host, dns_server, timeout)
    if address is not None and address not in resolution.addresses:
        raise UsageError(f"--address {address} is not one of {host}'s addresses ({', '.join(resolution.addresses)})")
    target = address or (resolution.addresses[0] if resolution.addresses else None)
    results = probe_ports(target, ports, host, helo, timeout) if target else []
    findings = analyze_ports(resolution, results)

    def table(console: Console) -> None:
        addrs = ", ".join(resolution.addresses) or "no address"
        console.print(f"[bold]{escape(host)}[/]: {escape(addrs)}" + (f"  (probing {target})" if target else ""))
        for line in resolution.evidence:
            console.print(f"  [dim]dns[/] {escape(line)}")
        for r in results:
            proto = r.protocol if r.protocol != "unknown" else KNOWN_PORTS.get(r.port, ("?", False))[0]
            label = f"{r.port}/{proto}"
            parts = (r.banner[:60], describe_tls(r), describe_auth(r), r.error)
            detail = "  ".join(p for p in parts if p)
            console.print(f"  {label:<10} {r.state:<9} {r.seconds * 1000:>6.0f} ms  {escape(detail)}")
        console.print(f"  [dim](time limit per port {total_cap(timeout):g}s)[/]\n")

    data = {
        "host": host,
        "addresses": list(resolution.addresses),
        "mx": [{"preference": p, "host": h} for p, h in resolution.mx],
        "probed_address": target,
        "ports": results,
    }
    return emit("ports", fmt, findings, data, text=table)
