"""What every subcommand shares: --format, --root, --dns-server, and `emit` (the output contract)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from maildoctor.model import Finding, exit_code_for, rank_findings
from maildoctor.render.jsonout import render_json

if TYPE_CHECKING:  # rich is imported only for text output: ~25 ms of start-up JSON runs do not need
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

TextRenderer = Callable[["Console"], None]


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format; json is one document with schema_version, command and findings.",
    )(func)


def root_option(func: F) -> F:
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("/"),
        show_default=True,
        help="Server root to read (a live server is /; a snapshot or the demo is a directory).",
    )(func)


def dns_server_option(func: F) -> F:
    return click.option(
        "--dns-server",
        metavar="HOST[:PORT]",
        default=None,
        help="Ask this DNS server instead of the system resolver.",
    )(func)


def emit(
    command: str,
    fmt: str,
    findings: Sequence[Finding],
    data: Mapping[str, Any] | None = None,
    text: TextRenderer | None = None,
    input_errors: Sequence[str] = (),
    max_evidence: int = 5,
    brief_info: bool = False,
) -> int:
    """Print the result in the chosen format and return the exit code of the contract.

    0 nothing wrong, 1 problems found, 2 some input could not be read (the readable part is
    still printed, and each unreadable input gets one line on stderr).
    """
    ranked = rank_findings(list(findings))
    if fmt == "json":
        payload = dict(data or {})
        if input_errors:
            payload["input_errors"] = list(input_errors)
        # indented for a person at a terminal; compact (and fast) for a program or a pipe
        sys.stdout.write(render_json(command, ranked, payload, pretty=sys.stdout.isatty()) + "\n")
    else:
        from maildoctor.render.text import make_console, render_findings

        console = make_console()
        if text is not None:
            text(console)
        render_findings(console, ranked, max_evidence=max_evidence, brief_info=brief_info)
    for err in input_errors:
        sys.stderr.write(f"maildoctor: error: {err}\n")
    if input_errors:
        return 2
    return exit_code_for(ranked)
