"""`maildoctor headers`: time every hop of a message and say where the delay was."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from maildoctor.cli.common import emit, format_option
from maildoctor.errors import InputError, UsageError
from maildoctor.headers.analyze import analyze_headers
from maildoctor.headers.hops import analyze_chain
from maildoctor.headers.message import MAX_INPUT_BYTES, parse_header_text
from maildoctor.headers.render import render_report
from maildoctor.headers.verdict import LocalJoin, candidate_ids, read_local
from maildoctor.model import Evidence, Finding, Severity


def _read_input(source: str) -> bytes:
    if source == "-":
        if sys.stdin.isatty():
            raise UsageError("paste the headers on stdin (end with Ctrl-D) or give a .eml file")
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        path = Path(source)
        if path.is_dir():
            raise InputError(f"{source}: is a directory, not a message file")
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise InputError(f"{source}: {exc.strerror or exc}") from exc
    if not data.strip():
        raise InputError(f"{'stdin' if source == '-' else source}: empty input, no headers to analyse")
    return data


@click.command("headers")
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option(
    "--log",
    "logs",
    multiple=True,
    metavar="PATH",
    help="Our mail log (Exim mainlog or Postfix maillog; rotated and compressed files too). Repeatable.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Server root whose mail logs to read (e.g. / on the server itself).",
)
@format_option
def command(source: str, logs: tuple[str, ...], root: Path | None, fmt: str) -> int:
    """Analyse a message's full header: each hop's delay (clock skew shown, not hidden), the
    authentication results and, with --log or --root, what our own server did with it.

    FILE is a .eml message, pasted headers (Outlook's "Internet headers" work) or a bounce that
    carries the original; '-' or nothing reads stdin.
    """
    if source == "-" and "-" in logs:
        raise UsageError("stdin cannot be both the headers and the log: give the headers or the log as a file")
    data = _read_input(source)
    headers = parse_header_text(data)
    if not headers.fields:
        raise InputError(f"{'stdin' if source == '-' else source}: no header fields found (is this an email?)")
    paths: list[Path | str] = list(logs)
    if root is not None:
        if not root.is_dir():
            raise InputError(f"{root}: not a directory")
        from maildoctor.logs.read import default_log_paths

        found = default_log_paths(root)
        if not found and not logs:
            raise InputError(f"{root}: no mail log found (var/log/exim_mainlog, exim4/mainlog, maillog, mail.log)")
        paths.extend(found)
    local: LocalJoin | None = None
    input_errors: list[str] = []
    extra: list[Finding] = []
    if paths:
        missing = [p for p in logs if p != "-" and not any(c in p for c in "*?[") and not Path(p).exists()]
        input_errors = [f"{p}: no such file" for p in missing]
        chain = analyze_chain(headers.get_all("Received"), headers.first("Date"))
        message_id = headers.first("Message-ID")
        local, problems = read_local(chain, message_id, paths)
        input_errors += [e for e in problems if not any(e.startswith(f"{p}:") for p in missing)]
        if local is None:
            searchable = bool(candidate_ids(chain) or message_id)
            extra.append(
                Finding(
                    "headers.local_not_found",
                    Severity.UNKNOWN,
                    "This message is not in our log" if searchable else "Nothing to look up in our log",
                    "No hop id (Exim id, Postfix queue id) nor the Message-ID was found in the given logs: "
                    "the message did not pass through this server, or those log files are rotated away."
                    if searchable
                    else "No hop carries an Exim or Postfix id and there is no Message-ID header.",
                    evidence=tuple(Evidence("file", str(p)) for p in paths[:5]),
                )
            )
    report = analyze_headers(headers, local)

    def text(console: Console) -> None:
        render_report(console, report)

    return emit("headers", fmt, list(report.findings) + extra, report.to_json(), text=text, input_errors=input_errors)
