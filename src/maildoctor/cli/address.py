"""`maildoctor address`: how this server routes one address, through which files and lines."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from maildoctor.cli.common import emit, format_option, root_option
from maildoctor.errors import InputError
from maildoctor.forwarders.address import diagnose_address
from maildoctor.forwarders.eximbt import run_exim_bt

# local@domain; a system alias is asked as postmaster@localhost (or @ the host name), as with exim -bt.
_ADDRESS = re.compile(r"^[^@\s<>\"()\[\],;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.?$")


@click.command("address")
@click.argument("address")
@root_option
@click.option(
    "--exim-bt",
    "exim_bt",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Output of 'exim -bt ADDRESS' (a file, or - for stdin) to explain and compare.",
)
@click.option("--run-exim", is_flag=True, help="Run 'exim -bt ADDRESS' on this host and compare (live server only).")
@format_option
def command(address: str, root: Path, exim_bt: Path | None, run_exim: bool, fmt: str) -> int:
    """Show where mail for ADDRESS ends up (mailbox, forward, pipe, :fail:, :blackhole:, remote),
    with the file and line of every step; explain and compare 'exim -bt'."""
    address = address.strip().strip("<>")
    if not _ADDRESS.match(address):
        raise click.UsageError(f"{address!r} is not an email address (local@domain; system aliases: NAME@localhost)")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    if exim_bt is not None and run_exim:
        raise click.UsageError("give either --exim-bt or --run-exim, not both")
    bt_text: str | None = None
    if exim_bt is not None:
        try:
            raw = sys.stdin.buffer.read() if str(exim_bt) == "-" else exim_bt.read_bytes()
        except OSError as exc:
            raise InputError(f"{exim_bt}: {exc.strerror or exc}") from exc
        bt_text = raw.decode("utf-8", errors="replace")
    elif run_exim:
        if root.resolve() != Path("/"):
            raise click.UsageError("--run-exim asks this host's Exim, so it needs --root / (use --exim-bt FILE)")
        bt_text = run_exim_bt(address)
    findings, data = diagnose_address(root, address, bt_text)

    def render(console: Console) -> None:
        console.print(f"[bold]{escape(address)}[/] on {escape(str(root))}:")
        for d in data["deliveries"]:
            for h in d["hops"]:
                console.print(f"  {escape(h['via'])}: {escape(h['where'])}  {escape(h['raw'])}")
            console.print(f"  [bold]=> {escape(d['summary'])}[/]")
        _render_bt(console, data)
        console.print()

    return emit("address", fmt, findings, data, text=render)


def _render_bt(console: Console, data: dict[str, Any]) -> None:
    bt = data.get("exim_bt")
    if not bt:
        return
    console.print("\n[bold]exim -bt says:[/]")
    for line in bt["explained"]:
        console.print(f"  {escape(line)}")
    if bt["agrees"]:
        console.print("  [green]maildoctor and exim -bt agree.[/]")
    for diff in bt["differences"]:
        console.print(f"  [yellow]{escape(diff)}[/]")
