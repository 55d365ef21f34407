"""`maildoctor queue`: what is in the mail queue, how old, from whom, and when the disk is full."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from maildoctor.cli.common import emit, format_option, root_option
from maildoctor.errors import InputError
from maildoctor.logs.read import probe_log
from maildoctor.outbreak.aggregate import Aggregate
from maildoctor.outbreak.fastscan import scan_files
from maildoctor.outbreak.findings import nagios_status, nagios_summary, perfdata, prometheus_text, write_textfile
from maildoctor.outbreak.run import build_queue_report, default_logs
from maildoctor.queue.exim_bp import parse_exim_bp
from maildoctor.queue.model import QueueRead
from maildoctor.queue.postqueue import parse_postqueue_json
from maildoctor.queue.render import queue_data, queue_findings, render_queue_text


def read_text_input(path: str) -> tuple[str, float]:
    """The text of FILE or '-' (stdin) and the time it was taken (file mtime, or now)."""
    if path == "-":
        return sys.stdin.read(), time.time()
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace"), os.stat(path).st_mtime
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc


def saved_queue(exim_bp: str | None, postqueue_json: str | None) -> tuple[QueueRead | None, float | None]:
    """A queue listing saved earlier, and when it was taken (ages are relative to that moment)."""
    if exim_bp and postqueue_json:
        raise click.UsageError("give either --exim-bp or --postqueue-json, not both")
    if exim_bp:
        text, taken = read_text_input(exim_bp)
        read = parse_exim_bp(text, taken, source=exim_bp if exim_bp != "-" else "exim -bp (stdin)")
        return _some_entry(read, exim_bp, "exim -bp"), taken
    if postqueue_json:
        text, taken = read_text_input(postqueue_json)
        source = postqueue_json if postqueue_json != "-" else "postqueue -j (stdin)"
        return _some_entry(parse_postqueue_json(text, source=source), postqueue_json, "postqueue -j"), taken
    return None, None


def _some_entry(read: QueueRead, path: str, what: str) -> QueueRead:
    """A listing in which nothing at all was recognised is the wrong file, not an empty queue."""
    if not read.messages and read.errors:
        raise InputError(f"{path}: not {what} output ({len(read.errors)} lines, no queue entry recognised)")
    return read


def check_logs(logs: tuple[Path, ...]) -> None:
    for p in logs:
        if not p.is_file() or not os.access(p, os.R_OK):
            raise InputError(f"{p}: cannot read log file")
        problem = probe_log(p)
        if problem:
            raise InputError(f"{p}: {problem}")


F = TypeVar("F", bound=Callable[..., Any])


def monitoring_options(func: F) -> F:
    func = click.option("--nagios", is_flag=True, help="One Nagios status line with perfdata; exit 0/1/2/3.")(func)
    return click.option(
        "--prometheus-textfile",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Also write metrics for node_exporter's textfile collector to this file (atomically).",
    )(func)


@click.command("queue")
@root_option
@click.option("--log", "logs", multiple=True, type=click.Path(path_type=Path), help="Main log(s) for the growth rate.")
@click.option("--exim-bp", metavar="FILE", help="Read the queue from saved `exim -bp` output ('-' for stdin).")
@click.option("--postqueue-json", metavar="FILE", help="Read the queue from saved `postqueue -j` output ('-': stdin).")
@monitoring_options
@format_option
def command(
    root: Path,
    logs: tuple[Path, ...],
    exim_bp: str | None,
    postqueue_json: str | None,
    nagios: bool,
    prometheus_textfile: Path | None,
    fmt: str,
) -> int:
    """Message count, size, ages, frozen, top senders and domains, a domain x age table (like
    qshape), the spool's disk, and with the log the growth rate and when the disk is full."""
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    check_logs(logs)
    saved, taken = saved_queue(exim_bp, postqueue_json)
    log_paths = list(logs) or default_logs(root)
    agg: Aggregate | None = scan_files([str(p) for p in log_paths]) if log_paths else None
    q = build_queue_report(root, agg, now=taken, read=saved)
    if q.read is None:
        raise InputError(f"{root}: no mail queue found (no Exim spool, no Postfix); try --exim-bp or --postqueue-json")
    findings = queue_findings(q.read, q.shape, q.disk, q.growth)
    if prometheus_textfile is not None:
        write_textfile(prometheus_textfile, prometheus_text(None, q))
    if nagios:
        code, line = nagios_status(findings, perfdata(None, q), "QUEUE", nagios_summary(None, q))
        click.echo(line)
        return code

    def text(console: Console) -> None:
        render_queue_text(console, q.shape, f"{q.read.kind} {q.read.location}" if q.read else "")

    data = {"queue": queue_data(q.read, q.shape, q.disk, q.growth), "logs": [str(p) for p in log_paths]}
    return emit("queue", fmt, findings, data, text=text)
