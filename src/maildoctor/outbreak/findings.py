"""Outbreak report -> findings, JSON data, text, and monitoring output (Nagios, Prometheus)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from maildoctor.model import Finding, Severity
from maildoctor.outbreak.report import SourceReport
from maildoctor.outbreak.run import OutbreakReport
from maildoctor.queue.render import human_age, queue_data, queue_findings

MAX_SUSPECT_FINDINGS = 10
_QUEUE_STEPS = ("freeze", "save, then", "check one", "hold its")


def suspect_title(s: SourceReport) -> str:
    kind = s.kind.replace("_", " ")
    return f"{kind} {s.value}: {s.messages} messages, peak {s.peak_per_hour:.0f}/h, score {s.score}"


def _incident_key(s: SourceReport) -> tuple[object, ...]:
    # Sources with identical counts and times cover the same messages (a script, its cPanel user
    # and its sender address): one incident, reported once under its most specific source.
    return (s.messages, s.first_seen, s.last_seen, s.delivered, s.failed, s.deferred_messages)


def outbreak_findings(rep: OutbreakReport) -> list[Finding]:
    findings: list[Finding] = []
    problems = [s for s in rep.suspects if s.severity.is_problem]
    incidents: dict[tuple[object, ...], list[SourceReport]] = {}
    for s in problems:
        incidents.setdefault(_incident_key(s), []).append(s)
    for group in list(incidents.values())[:MAX_SUSPECT_FINDINGS]:
        s = group[0]
        fix: list[str] = []
        for i, member in enumerate(group):
            for c in rep.plans.get((member.kind, member.value), []):
                if c not in fix and (i == 0 or not c.startswith(_QUEUE_STEPS)):
                    fix.append(c)
        also = ", ".join(f"{m.kind.replace('_', ' ')} {m.value}" for m in group[1:])
        findings.append(
            Finding(
                id=f"outbreak.suspect.{s.kind}",
                severity=s.severity,
                title=suspect_title(s),
                explanation="\n".join(f"- {r.text}" for r in s.reasons)
                + f"\nfirst seen {s.first_seen}, last seen {s.last_seen}; {s.queued} queued now"
                + (f"\nthe same messages as: {also}" if also else ""),
                evidence=tuple(s.evidence),
                fix=tuple(fix),
                subject=s.value,
                data=s.to_json(),
            )
        )
    if rep.logs and not problems:
        findings.append(
            Finding(
                "outbreak.none",
                Severity.OK,
                f"No compromised sender in {rep.lines} log lines ({rep.log_first} to {rep.log_last})",
                explanation=f"{len(rep.suspects)} sending sources measured; none looks like an outbreak.",
            )
        )
    q = rep.queue
    findings.extend(queue_findings(q.read, q.shape, q.disk, q.growth))
    return findings


def outbreak_data(rep: OutbreakReport) -> dict[str, Any]:
    q = rep.queue
    return {
        "suspects": [s.to_json() for s in rep.suspects],
        "queue": queue_data(q.read, q.shape, q.disk, q.growth),
        "log": {"files": rep.logs, "lines": rep.lines, "first": rep.log_first, "last": rep.log_last},
        "window_seconds": rep.window,
        "plan": [
            {"source": {"kind": k, "value": v}, "commands": cmds, "queued_ids": rep.ids_by_source.get((k, v), [])}
            for (k, v), cmds in rep.plans.items()
        ],
    }


def render_outbreak_text(console: Console, rep: OutbreakReport, top: int = 10) -> None:
    console.print(
        f"[bold]maildoctor outbreak[/]: {rep.lines} lines of {', '.join(map(escape, rep.logs)) or 'no log'} "
        f"({rep.log_first} to {rep.log_last}), window {rep.window // 60} min\n"
    )
    if rep.suspects:
        table = Table(
            "score", "severity", "source", "messages", "peak/h", "rcpt/msg", "fail", "defer", "domains", "queued"
        )
        for s in rep.suspects[:top]:
            table.add_row(
                str(s.score),
                s.severity.value,
                escape(f"{s.kind} {s.value}"),
                str(s.messages),
                f"{s.peak_per_hour:.0f}",
                f"{s.recipients_per_message:.1f}",
                f"{s.failure_ratio:.0%}",
                f"{s.deferral_ratio:.0%}",
                f"{s.distinct_domains}{'+' if s.domains_capped else ''}",
                str(s.queued),
            )
        console.print(table)
        console.print()


def nagios_status(
    rep_findings: list[Finding], perf: dict[str, float | int | None], label: str, summary: str
) -> tuple[int, str]:
    """One Nagios status line with perfdata and its exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)."""
    worst = min((f.severity for f in rep_findings), key=lambda s: s.rank, default=Severity.UNKNOWN)
    code, word = {
        Severity.CRITICAL: (2, "CRITICAL"),
        Severity.WARNING: (1, "WARNING"),
        Severity.OK: (0, "OK"),
        Severity.INFO: (0, "OK"),
    }.get(worst, (3, "UNKNOWN"))
    data = " ".join(f"{k}={_num(v)}" for k, v in perf.items() if v is not None)
    return code, f"{label} {word} - {summary} | {data}"


def _num(v: float | int) -> str:
    return str(v) if isinstance(v, int) else f"{v:.1f}"


def perfdata(rep: OutbreakReport | None, q: Any) -> dict[str, float | int | None]:
    shape = q.shape if q is not None else None
    perf: dict[str, float | int | None] = {
        "queue_size": shape.messages if shape else None,
        "frozen": shape.frozen if shape else None,
        "oldest_age": int(shape.oldest_age) if shape and shape.oldest_age is not None else None,
    }
    if rep is not None:
        perf["top_rate"] = round(rep.suspects[0].peak_per_hour, 1) if rep.suspects else 0
    return perf


def nagios_summary(rep: OutbreakReport | None, q: Any) -> str:
    parts = []
    if rep is not None and rep.suspects and rep.suspects[0].severity.is_problem:
        s = rep.suspects[0]
        parts.append(f"top source {s.kind} {s.value} {s.peak_per_hour:.0f}/h score {s.score}")
    elif rep is not None and not rep.logs:
        parts.append("no Exim main log to measure senders")
    elif rep is not None:
        parts.append("no compromised sender")
    shape = q.shape if q is not None else None
    if shape is not None:
        parts.append(f"queue {shape.messages} msgs, {shape.frozen} frozen, oldest {human_age(shape.oldest_age)}")
    return "; ".join(parts) or "nothing to read"


def prometheus_text(rep: OutbreakReport | None, q: Any) -> str:
    lines: list[str] = []

    def gauge(name: str, help_: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")

    shape = q.shape if q is not None else None
    if shape is not None:
        gauge("maildoctor_queue_messages", "Messages in the mail queue.", [({}, shape.messages)])
        gauge("maildoctor_queue_bytes", "Total size of the queued messages.", [({}, shape.total_size)])
        gauge("maildoctor_queue_frozen_messages", "Frozen (Exim) or held (Postfix) messages.", [({}, shape.frozen)])
        gauge("maildoctor_queue_oldest_age_seconds", "Age of the oldest queued message.", [({}, shape.oldest_age or 0)])
    if q is not None and q.disk is not None:
        gauge("maildoctor_spool_free_bytes", "Free bytes on the spool's filesystem.", [({}, q.disk.free_bytes)])
    if q is not None and q.growth is not None:
        gauge(
            "maildoctor_queue_growth_messages_per_hour",
            "Net queue growth from the log.",
            [({}, q.growth.net_messages_per_hour)],
        )
        if q.growth.hours_until_full is not None:
            gauge(
                "maildoctor_spool_hours_until_full",
                "Projected hours until the spool disk is full.",
                [({}, q.growth.hours_until_full)],
            )
    if rep is not None:
        top = rep.suspects[:10]
        gauge(
            "maildoctor_outbreak_source_score",
            "Suspicion score (0-100) of the top sending sources.",
            [({"kind": s.kind, "source": s.value, "severity": s.severity.value}, s.score) for s in top],
        )
        gauge(
            "maildoctor_outbreak_source_peak_per_hour",
            "Peak sending rate of the top sending sources.",
            [({"kind": s.kind, "source": s.value}, round(s.peak_per_hour, 1)) for s in top],
        )
        gauge(
            "maildoctor_outbreak_top_rate_per_hour",
            "Peak rate of the top suspect.",
            [({}, round(top[0].peak_per_hour, 1) if top else 0)],
        )
    return "\n".join(lines) + "\n"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_textfile(path: Path, text: str) -> None:
    """Atomic write (node_exporter must never read a half-written file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
