"""`maildoctor firewall [--user NAME]`: why a user or a website script cannot send out."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from maildoctor.cli.common import emit, format_option, root_option
from maildoctor.demo import demo_root
from maildoctor.errors import InputError, UsageError
from maildoctor.firewall.analyze import (
    ALTERNATE_PORTS,
    DEFAULT_PORTS,
    PathResult,
    analyze_policy,
    analyze_user,
    check_path,
    workarounds,
)
from maildoctor.firewall.sources import read_accounts, read_rules_file, read_rulesets, resolve_user
from maildoctor.net.probe import is_ip, parse_ports
from maildoctor.net.uidprobe import connect_all, connect_as
from maildoctor.server.csf import read_csf
from maildoctor.server.firewall import read_cpanel_smtp_restrictions


@click.command("firewall")
@click.option("--user", "user_spec", default=None,
              help="User name, uid, or a script path under /home/USER/ (the script runs as USER).")
@click.option("--ports", "ports_text", default=None,
              help="Outbound ports to judge (default: CSF's SMTP_PORTS or 25,465,587, plus 26 and 2525).")
@click.option("--target", default=None,
              help="Live test: try connections to this IP address as the user and as root (only this address).")
@click.option("--rules", "rules_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A saved `iptables-save` or `nft list ruleset` output to judge (repeatable).")
@click.option("--live/--no-live", default=None,
              help="Read the running rules (iptables-save, nft). Default: on when --root is /.")
@click.option("--timeout", type=click.FloatRange(0.2, 30.0), default=3.0, show_default=True,
              help="Seconds for the live connection tries.")
@click.option("--demo", is_flag=True, help="Judge the bundled demo server (a cPanel server with CSF SMTP_BLOCK).")
@root_option
@format_option
def command(user_spec: str | None, ports_text: str | None, target: str | None, rules_files: tuple[Path, ...],
            live: bool | None,
            timeout: float, demo: bool, root: Path, fmt: str) -> int:
    """Name the rule that stops a user's outgoing SMTP connections, and the workaround that fits."""
    if demo:
        if root != Path("/"):
            raise UsageError("give either --demo or --root, not both")
        root = demo_root()
        live = False if live is None else live
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    is_live_root = root.resolve() == Path("/")
    live = is_live_root if live is None else live
    if live and not is_live_root:
        raise UsageError("--live reads this machine's running rules; it only makes sense with --root /")
    if target is not None:
        if not is_ip(target):
            raise UsageError(f"--target {target!r}: give an IP address (it is the only address contacted)")
        if not is_live_root or user_spec is None:
            raise UsageError("--target needs --user and a live server (--root /)")
    csf = read_csf(root)
    cpanel = read_cpanel_smtp_restrictions(root)
    acc = read_accounts(root)
    rulesets, notes = read_rulesets(root, live, acc)
    for path in rules_files:
        rs = read_rules_file(path, acc)
        rulesets.append(rs)
        notes.append(f"{path}: {rs.rule_count()} rules ({rs.kind})")
    if ports_text:
        ports = parse_ports(ports_text)
    else:
        base = sorted(csf.smtp_ports) if csf is not None and csf.smtp_ports else list(DEFAULT_PORTS)
        ports = tuple(dict.fromkeys([*base, *DEFAULT_PORTS, *ALTERNATE_PORTS]))
    findings = analyze_policy(csf, cpanel, rulesets, ports)
    data: dict[str, object] = {
        "root": str(root),
        "sources": [*notes, f"{csf.path}" if csf else "no CSF", cpanel.evidence if cpanel else "no cPanel"],
        "csf": {"smtp_block": csf.smtp_block, "smtp_ports": sorted(csf.smtp_ports),
                "allow_users": csf.names("SMTP_ALLOWUSER"), "allow_groups": csf.names("SMTP_ALLOWGROUP"),
                "allow_local": csf.flag("SMTP_ALLOWLOCAL"), "disabled": csf.disabled} if csf else None,
        "cpanel_smtp_restrictions": cpanel.enabled if cpanel else None,
    }
    results: list[PathResult] = []
    if user_spec is not None:
        user = resolve_user(root, user_spec, acc)
        results = [check_path(user, csf, cpanel, rulesets, p, lo) for p in ports for lo in (False, True)]
        live_results = None
        if target is not None and user.uid is not None:
            if os.geteuid() != 0:
                raise UsageError("--target: trying connections as another user needs root")
            mine = connect_as(user.uid, user.gid if user.gid is not None else user.uid, target, ports, timeout,
                              sorted(user.gids))
            roots = connect_all(target, ports, timeout)
            live_results = {p: (mine[p], roots[p]) for p in ports}
        findings += analyze_user(user, results, csf, cpanel, live_results, target or "")
        blocked = [r for r in results if r.blocked]
        data["user"] = {"name": user.name, "uid": user.uid, "gid": user.gid, "groups": sorted(user.groups),
                        "found_as": user.how}
        data["ports"] = [{"port": r.port, "to": "loopback" if r.loopback else "remote", "blocked": r.blocked,
                          "by": [{"by": b.by, "rule": b.what, "where": b.where, "line": b.line} for b in r.blocks]}
                         for r in results]
        data["live"] = ({str(p): {"user": m[0], "user_detail": m[1], "root": r[0], "root_detail": r[1]}
                         for p, (m, r) in live_results.items()} if live_results else None)
        data["workarounds"] = workarounds(user, results, csf, cpanel) if blocked else []

    def table(console: Console) -> None:
        console.print(f"[bold]maildoctor firewall[/] on {escape(str(root))}: "
                      + ("; ".join(escape(n) for n in notes) or "no iptables/nftables rules found"))
        for r in results:
            if not r.loopback:
                local = next(x for x in results if x.port == r.port and x.loopback)
                console.print(f"  port {r.port:<5} remote: {'BLOCKED' if r.blocked else 'open':<8} "
                              f"localhost: {'BLOCKED' if local.blocked else 'open'}")
        console.print()

    return emit("firewall", fmt, findings, data, text=table)
