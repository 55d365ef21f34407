"""`maildoctor bounce`: classify bounces and find their cause on this server."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from maildoctor.bounce.core import parse_bounce
from maildoctor.bounce.local_cause import add_local_causes
from maildoctor.bounce.model import Bounce
from maildoctor.bounce.reason import taxonomy
from maildoctor.bounce.report import bounce_dict, bounce_findings
from maildoctor.bounce.sources import looks_like_message, read_messages
from maildoctor.bounce.spfcheck import evaluate_spf_causes
from maildoctor.cli.common import dns_server_option, emit, format_option
from maildoctor.errors import UsageError

TEXT_ROWS = 200


@click.command("bounce")
@click.argument("inputs", nargs=-1)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server root to look up local causes in (:fail: forwarders, pipes, quotas). Default: none.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many messages.")
@click.option("--reasons", "show_reasons", is_flag=True, help="Print the reason taxonomy (Sisimai's names) and exit.")
@dns_server_option
@format_option
def command(
    inputs: tuple[str, ...], root: Path | None, limit: int | None, show_reasons: bool, dns_server: str | None, fmt: str
) -> int:
    """Classify bounces (files, mboxes, maildirs, or - for stdin) and trace each failure to its cause.

    Each failed recipient gets its address, status, SMTP code, reason (Sisimai's names), hard or
    soft, and the rule that decided. With --root, the cause on that server: a :fail: forwarder
    (file and line), the domain's default address, a missing mailbox, a pipe's exit code, a quota.
    """
    if show_reasons:
        return _reasons(fmt)
    if not inputs:
        if sys.stdin.isatty():
            raise UsageError("give bounce files, mboxes or maildirs, or - to read stdin")
        inputs = ("-",)
    if root is not None and not root.is_dir():
        raise UsageError(f"--root {root}: not a directory")
    errors: list[str] = []
    bounces: list[Bounce] = []
    for msg in read_messages(inputs, errors):
        if not looks_like_message(msg.raw):
            errors.append(f"{msg.name}: not an email message (no header fields)")
            continue
        try:
            b = parse_bounce(msg.raw, msg.name)
        except (ValueError, LookupError, RecursionError, MemoryError) as exc:
            errors.append(f"{msg.name}: cannot parse: {type(exc).__name__}")
            continue
        if msg.truncated:
            b = replace(b, notes=(*b.notes, "message truncated at read"))
        b = add_local_causes(root, b)
        bounces.append(b)
        if limit is not None and len(bounces) >= limit:
            break
    if dns_server:
        bounces = evaluate_spf_causes(bounces, dns_server)
    findings = bounce_findings(bounces)

    def table(console: Console) -> None:
        console.print(f"[bold]maildoctor bounce[/]: {len(bounces)} message(s)\n")
        for shown, b in enumerate(bounces):
            if shown >= TEXT_ROWS:
                console.print(f"... {len(bounces) - shown} more (see --format json)")
                break
            head = f"{escape(b.file)}  [bold]{b.kind}[/]" + (f"  ({escape(b.agent)})" if b.agent else "")
            console.print(head)
            for r in b.recipients:
                code = " ".join(x for x in (r.smtp_code, r.status) if x)
                hard = "hard" if r.hard else "soft"
                console.print(f"  {escape(r.address or '(no address)')}  {r.reason}  {hard}  {escape(code)}")
                if r.diagnostic:
                    console.print(f"    [dim]{escape(r.diagnostic[:160])}[/]")
                console.print(f"    [dim]rule {escape(r.rule.id)}: {escape(r.rule.matched[:80])}[/]")
                if r.local_cause is not None:
                    c = r.local_cause
                    where = " " + escape(f"[{c.file}:{c.line}]") if c.file and c.line else ""
                    console.print(f"    [yellow]cause[/] {escape(c.summary)}{where}")
                    for step in c.fix:
                        console.print(f"    [green]fix[/] {escape(step)}")
        console.print()

    data = {"bounces": [bounce_dict(b) for b in bounces]}
    return emit("bounce", fmt, findings, data, text=table, input_errors=errors)


def _reasons(fmt: str) -> int:
    table = [{"reason": name, **{k: v for k, v in e.items() if k != "id"}} for name, e in taxonomy().items()]

    def text(console: Console) -> None:
        console.print("[bold]Bounce reasons[/] (Sisimai's names, one to one)\n")
        for row in table:
            hard = "hard" if row["hard"] else "soft"
            console.print(f"  {row['reason']:<16} {row['kind']:<9} {hard:<5} {escape(str(row['meaning']))}")
        console.print()

    return emit("bounce", fmt, [], {"reasons": table}, text=text)
