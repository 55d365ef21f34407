"""`maildoctor outbreak`: who is sending, since when, how fast, how much is queued, what to do."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import click
from rich.console import Console

from maildoctor.cli.common import emit, format_option, root_option
from maildoctor.cli.queue import check_logs, monitoring_options, saved_queue
from maildoctor.errors import CannotRunError, InputError, UsageError
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.outbreak.findings import (
    nagios_status,
    nagios_summary,
    outbreak_data,
    outbreak_findings,
    perfdata,
    prometheus_text,
    render_outbreak_text,
    write_textfile,
)
from maildoctor.outbreak.plan import apply_queue_action
from maildoctor.outbreak.report import KINDS
from maildoctor.outbreak.run import build_outbreak_report, default_logs

_WINDOW = re.compile(r"^(\d+)\s*([smhd]?)$")


def parse_window(text: str) -> int:
    m = _WINDOW.match(text.strip().lower())
    if not m:
        raise UsageError(f"--window {text!r}: use a duration such as 15m, 1h or 1d")
    seconds = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if seconds < 60 or seconds % 60:
        raise UsageError(f"--window {text!r}: must be whole minutes, at least 1m")
    return seconds


@click.command("outbreak")
@click.option("--log", "logs", multiple=True, type=click.Path(path_type=Path), help="Exim main log(s), oldest first.")
@root_option
@click.option("--window", default="1h", show_default=True, help="Rate window for peaks and bursts (15m, 1h, 1d).")
@click.option("--top", default=10, show_default=True, help="Sources shown in the text table.")
@click.option("--exim-bp", metavar="FILE", help="Read the queue from saved `exim -bp` output ('-' for stdin).")
@click.option("--postqueue-json", metavar="FILE", help="Read the queue from saved `postqueue -j` output.")
@click.option("--apply", "do_apply", is_flag=True, help="Carry out the queue part of the plan: freeze the messages.")
@click.option("--remove", is_flag=True, help="With --apply: save a copy of each message, then remove it.")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path), help="Where --remove saves copies.")
@click.option(
    "--apply-severity",
    type=click.Choice(["critical", "warning"]),
    default="critical",
    show_default=True,
    help="Which suspects --apply acts on.",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="KIND=VALUE",
    help="With --apply: act on this source (script=/home/u/public_html/x, auth_login=a@b, ...) "
    "instead of every suspect of --apply-severity.",
)
@click.option("--exim", "exim_cmd", default="exim", show_default=True, help="The exim command --apply runs.")
@monitoring_options
@format_option
def command(
    logs: tuple[Path, ...],
    root: Path,
    window: str,
    top: int,
    exim_bp: str | None,
    postqueue_json: str | None,
    do_apply: bool,
    remove: bool,
    save_dir: Path | None,
    apply_severity: str,
    sources: tuple[str, ...],
    exim_cmd: str,
    nagios: bool,
    prometheus_textfile: Path | None,
    fmt: str,
) -> int:
    """Rank every sending source (script, local user, SMTP-auth login, client IP, sender) by how
    much it looks like a compromise, with reasons, evidence lines and a containment plan."""
    seconds = parse_window(window)
    if (remove or sources) and not do_apply:
        raise click.UsageError("--remove and --source only make sense with --apply")
    chosen = [_parse_source(x) for x in sources]
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    check_logs(logs)
    saved, taken = saved_queue(exim_bp, postqueue_json)
    log_paths = list(logs) or default_logs(root)
    rep = build_outbreak_report(root, log_paths, seconds, now=taken, queue_read=saved)
    findings = outbreak_findings(rep)
    if not log_paths:
        findings.append(
            Finding(
                "outbreak.no_log",
                Severity.UNKNOWN,
                f"No Exim main log under {root}: sending sources cannot be measured",
                fix=("give the log: maildoctor outbreak --log /var/log/exim_mainlog",),
            )
        )
    elif rep.lines and not rep.suspects and not rep.queue.growth:
        findings.append(
            Finding(
                "outbreak.not_exim_log",
                Severity.UNKNOWN,
                "No Exim message lines in the log: outbreak reads Exim main logs",
                evidence=tuple(Evidence("file", p) for p in rep.logs),
            )
        )
    data = outbreak_data(rep)
    if do_apply:
        findings.append(_apply(rep, remove, save_dir, apply_severity, chosen, exim_cmd, data))
    if prometheus_textfile is not None:
        write_textfile(prometheus_textfile, prometheus_text(rep, rep.queue))
    if nagios:
        code, line = nagios_status(findings, perfdata(rep, rep.queue), "OUTBREAK", nagios_summary(rep, rep.queue))
        click.echo(line)
        return code

    def text(console: Console) -> None:
        render_outbreak_text(console, rep, top)

    return emit("outbreak", fmt, findings, data, text=text)


def _parse_source(text: str) -> tuple[str, str]:
    kind, sep, value = text.partition("=")
    if not sep or not value or kind not in KINDS:
        raise UsageError(f"--source {text!r}: use KIND=VALUE with KIND one of {', '.join(KINDS)}")
    return kind, value


def _apply(rep, remove, save_dir, apply_severity, chosen, exim_cmd, data) -> Finding:  # type: ignore[no-untyped-def]
    if rep.queue.read is None or rep.queue.read.kind == "exim-bp":
        raise CannotRunError("--apply needs the live queue (the Exim spool or postqueue), not saved text")
    wanted = {Severity.CRITICAL} if apply_severity == "critical" else {Severity.CRITICAL, Severity.WARNING}
    if chosen:
        known = {(s.kind, s.value): s for s in rep.suspects}
        missing = [f"{k}={v}" for k, v in chosen if (k, v) not in known]
        if missing:
            raise UsageError(f"--source {', '.join(missing)}: no such sending source in the log")
        targets = [known[k] for k in chosen]
    else:
        targets = [s for s in rep.suspects if s.severity in wanted]
    ids = sorted({i for s in targets for i in rep.ids_by_source.get((s.kind, s.value), [])})
    if remove and save_dir is None:
        save_dir = Path("/root/maildoctor-saved") / time.strftime("%Y%m%d-%H%M%S")
    try:
        result = apply_queue_action(ids, rep.info, remove, save_dir, shlex.split(exim_cmd))
    except OSError as exc:
        raise CannotRunError(f"--apply stopped: {exc}") from exc
    data["apply"] = {
        "action": result.action,
        "sources": [{"kind": s.kind, "value": s.value} for s in targets],
        "done": list(result.done),
        "failed": list(result.failed),
        "saved_to": result.saved_to,
        "log": list(result.messages),
    }
    sev = Severity.WARNING if result.failed else Severity.INFO
    verb = "froze" if result.action == "freeze" else "saved and removed"
    return Finding(
        "outbreak.applied",
        sev,
        f"--apply {verb} {len(result.done)} queued messages of {len(targets)} sources"
        + (f"; {len(result.failed)} failed" if result.failed else ""),
        explanation=("copies saved in " + result.saved_to) if result.saved_to else "",
        evidence=tuple(Evidence("command", m) for m in result.messages),
    )
