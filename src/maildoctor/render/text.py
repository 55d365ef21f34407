"""Plain-words text report with rich; no colour when NO_COLOR is set or output is not a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from maildoctor.model import Finding, Severity

_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.WARNING: "yellow",
    Severity.UNKNOWN: "magenta",
    Severity.INFO: "cyan",
    Severity.OK: "green",
}


def make_console(stderr: bool = False) -> Console:
    """A console that never wraps evidence lines when not on a terminal (they must stay greppable)."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        file=stream,
        highlight=False,
        no_color="NO_COLOR" in os.environ or not tty,
        soft_wrap=not tty,
        width=None if tty else 200,
    )


def render_findings(
    console: Console, findings: Sequence[Finding], max_evidence: int = 5, brief_info: bool = False
) -> None:
    """Print findings, most urgent first as given: title, explanation, evidence, fix.

    With `brief_info`, info and ok findings get their title line only (a triage report).
    """
    if not findings:
        console.print("No findings.")
        return
    for f in findings:
        label = f.severity.value.upper()
        console.print(f"[{_STYLE[f.severity]}]{label:<8}[/] [bold]{escape(f.title)}[/]  [dim]({escape(f.id)})[/]")
        if brief_info and f.severity in (Severity.INFO, Severity.OK):
            continue
        if f.explanation:
            for line in f.explanation.splitlines():
                console.print(f"         {escape(line)}")
        shown = f.evidence[:max_evidence]
        for ev in shown:
            where = ev.location()
            prefix = f"{escape(where)}: " if where else ""
            console.print(f"         [dim]evidence[/] {prefix}{escape(ev.text)}")
        if len(f.evidence) > len(shown):
            console.print(f"         [dim]... {len(f.evidence) - len(shown)} more (see --format json)[/]")
        for step in f.fix:
            console.print(f"         [green]fix[/] {escape(step)}")
        console.print()
