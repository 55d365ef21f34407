"""`maildoctor doctor`: triage a whole server root."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from maildoctor.cli.common import dns_server_option, emit, format_option
from maildoctor.demo import demo_root
from maildoctor.doctor import DoctorContext, run_checks
from maildoctor.errors import InputError


@click.command("doctor")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server root to examine (default /).",
)
@click.option("--demo", is_flag=True, help="Examine the bundled demo server (a cPanel/Exim server after a bad day).")
@click.option("--offline", is_flag=True, help="No DNS or network probes.")
@dns_server_option
@format_option
def command(root: Path | None, demo: bool, offline: bool, dns_server: str | None, fmt: str) -> int:
    """Run every check over a server and rank what is wrong, with evidence and fixes."""
    if demo and root is not None:
        raise click.UsageError("give either --demo or --root, not both")
    target = demo_root() if demo else (root or Path("/"))
    if not target.is_dir():
        raise InputError(f"{target}: not a directory")
    ctx = DoctorContext(root=target, dns_server=dns_server, offline=offline or demo)
    findings = run_checks(ctx)

    def header(console: Console) -> None:
        problems = sum(1 for f in findings if f.severity.is_problem)
        console.print(f"[bold]maildoctor doctor[/] on {target}: {len(findings)} findings, {problems} problems\n")

    # a triage report: three evidence lines per problem, one line per info finding (all of it in --format json)
    return emit("doctor", fmt, findings, {"root": str(target)}, text=header, max_evidence=3, brief_info=True)
