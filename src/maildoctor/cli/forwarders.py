"""`maildoctor forwarders`: check every alias, forwarder and pipe under a server root."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from maildoctor.cli.common import emit, format_option, root_option
from maildoctor.errors import InputError
from maildoctor.forwarders.analyze import diagnose_forwarders


@click.command("forwarders")
@root_option
@click.option(
    "--domain", default=None, metavar="DOMAIN", help="Only this domain's forwarders (system aliases are skipped)."
)
@format_option
def command(root: Path, domain: str | None, fmt: str) -> int:
    """Find broken pipes, loops, :fail:/:blackhole: entries, forwards to missing mailboxes or
    without SRS, and duplicate entries in valiases, /etc/aliases, .forward, DirectAdmin and
    Postfix alias files. Reads files only; runs nothing."""
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    if domain is not None and (not domain.strip() or "/" in domain or domain.startswith(".")):
        raise click.UsageError(f"--domain {domain!r} is not a domain name")
    findings, data = diagnose_forwarders(root, domain.strip().lower() if domain else None)

    def header(console: Console) -> None:
        problems = sum(1 for f in findings if f.severity.is_problem)
        scope = f" for {domain}" if domain else ""
        console.print(
            f"[bold]maildoctor forwarders[/] on {escape(str(root))}{escape(scope)}: {data['entries']} entries, "
            f"{data['pipes']} pipes, {len(findings)} findings, {problems} problems\n"
        )
        if not data["entries"]:
            console.print("No alias or forwarder files found under this root.\n")

    return emit("forwarders", fmt, findings, data, text=header)
