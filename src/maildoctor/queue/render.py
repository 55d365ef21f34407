"""Queue report: findings, JSON data and text tables (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from maildoctor import kb
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.queue.growth import Growth
from maildoctor.queue.model import QueueRead
from maildoctor.queue.shape import DiskUsage, QueueShape


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def queue_findings(
    read: QueueRead | None, shape: QueueShape | None, disk: DiskUsage | None, growth: Growth | None
) -> list[Finding]:
    """What an admin must know about the queue, most urgent first."""
    if read is None or shape is None:
        return []
    book = kb.load("outbreak")
    findings: list[Finding] = []
    where = f"{read.kind} {read.location}".strip()
    size_e = book.by_id("queue_size")
    sev = Severity.OK
    if shape.messages >= size_e["critical_messages"]:
        sev = Severity.CRITICAL
    elif shape.messages >= size_e["warning_messages"]:
        sev = Severity.WARNING
    top = ", ".join(f"{s} ({n})" for s, n in shape.top_senders[:3])
    findings.append(
        Finding(
            id="queue.size",
            severity=sev,
            title=str(size_e["text"]).format(messages=shape.messages, size=human_size(shape.total_size)),
            explanation=f"Read from {where}; oldest {human_age(shape.oldest_age)}; top senders: {top or 'none'}.",
            evidence=tuple(Evidence("text", f"{s}: {n} queued", where) for s, n in shape.top_senders[:5]),
            fix=("see who fills it: maildoctor outbreak",) if sev.is_problem else (),
            data={"messages": shape.messages, "total_size": shape.total_size},
        )
    )
    frozen_e = book.by_id("queue_frozen")
    if shape.frozen:
        sev = Severity.WARNING if shape.frozen >= frozen_e["warning_frozen"] else Severity.INFO
        fix = (
            "list them: exiqgrep -z -i",
            "frozen bounces to dead senders can go: exiqgrep -z -f '^<>$' -i | xargs -r exim -Mrm",
        )
        if read.kind == "postqueue":
            fix = ('list held mail: postqueue -j | grep \'"queue_name": "hold"\'', "release: postsuper -H ALL")
        findings.append(
            Finding(
                "queue.frozen",
                sev,
                str(frozen_e["text"]).format(frozen=shape.frozen),
                explanation=f"{shape.bounces} of the queued messages are bounces (sender <>).",
                fix=fix,
                data={"frozen": shape.frozen},
            )
        )
    if disk is not None:
        findings.append(_disk_finding(disk, growth, book))
    if read.errors:
        findings.append(
            Finding(
                "queue.unreadable_entries",
                Severity.INFO,
                f"{len(read.errors)} queue entries could not be read and were skipped",
                explanation="Half-written files of messages being received, or damaged spool files.",
                evidence=tuple(Evidence("file", e) for e in read.errors[:10]),
            )
        )
    return findings


def _disk_finding(disk: DiskUsage, growth: Growth | None, book: kb.KbFile) -> Finding:
    e = book.by_id("queue_disk")
    ratio = disk.free_bytes / disk.total_bytes if disk.total_bytes else 1.0
    until = growth.hours_until_full if growth else None
    sev = Severity.OK
    if ratio < e["critical_free_ratio"] or (until is not None and until < e["critical_hours"]):
        sev = Severity.CRITICAL
    elif until is not None and until < e["warning_hours"]:
        sev = Severity.WARNING
    title = str(e["text"]).format(free=human_size(disk.free_bytes))
    if until is not None:
        title += f"; at the current growth it is full in {until:.1f} hours"
    expl = f"The spool {disk.path} takes {human_size(disk.spool_bytes)} of a {human_size(disk.total_bytes)} disk."
    if growth is not None:
        expl += (
            f" Over the log's last {growth.hours}h: {growth.arrivals_per_hour:.0f} arrivals/h, "
            f"{growth.completions_per_hour:.0f} completed/h, net {growth.net_messages_per_hour:+.0f} messages/h."
        )
    return Finding(
        "queue.disk",
        sev,
        title,
        explanation=expl,
        fix=("stop the source first: maildoctor outbreak (its plan freezes the flood)",) if sev.is_problem else (),
        data={"free_bytes": disk.free_bytes, "hours_until_full": until},
    )


def queue_data(
    read: QueueRead | None, shape: QueueShape | None, disk: DiskUsage | None, growth: Growth | None
) -> dict[str, Any]:
    if read is None or shape is None:
        return {"found": False}
    return {
        "found": True,
        "reader": read.kind,
        "location": read.location,
        "messages": shape.messages,
        "total_size": shape.total_size,
        "frozen": shape.frozen,
        "bounces": shape.bounces,
        "oldest_age_seconds": shape.oldest_age,
        "age_histogram": shape.age_histogram,
        "top_senders": [{"sender": s, "messages": n} for s, n in shape.top_senders],
        "top_recipient_domains": [{"domain": d, "recipients": n} for d, n in shape.top_recipient_domains],
        "by_local_user": [{"user": u, "messages": n} for u, n in shape.by_local_user],
        "by_auth_id": [{"login": u, "messages": n} for u, n in shape.by_auth_id],
        "by_script": [{"script": u, "messages": n} for u, n in shape.by_script],
        "qshape": {
            "columns": shape.qshape_columns,
            "rows": [{"domain": d, "total": t, "counts": c} for d, t, c in shape.qshape],
        },
        "disk": None
        if disk is None
        else {
            "path": disk.path,
            "spool_bytes": disk.spool_bytes,
            "free_bytes": disk.free_bytes,
            "total_bytes": disk.total_bytes,
        },
        "growth": None
        if growth is None
        else {
            "hours_measured": growth.hours,
            "arrivals_per_hour": round(growth.arrivals_per_hour, 1),
            "completions_per_hour": round(growth.completions_per_hour, 1),
            "net_messages_per_hour": round(growth.net_messages_per_hour, 1),
            "net_bytes_per_hour": round(growth.net_bytes_per_hour),
            "hours_until_full": None if growth.hours_until_full is None else round(growth.hours_until_full, 2),
        },
        "errors": list(read.errors),
    }


def render_queue_text(console: Console, shape: QueueShape | None, where: str) -> None:
    if shape is None:
        console.print("No mail queue found.\n")
        return
    console.print(
        f"[bold]Queue[/] {escape(where)}: {shape.messages} messages, {human_size(shape.total_size)}, "
        f"{shape.frozen} frozen, oldest {human_age(shape.oldest_age)}"
    )
    console.print("Ages: " + "  ".join(f"{k} {v}" for k, v in shape.age_histogram.items()))
    if shape.top_senders:
        console.print("Top senders: " + ", ".join(f"{escape(s)} {n}" for s, n in shape.top_senders[:5]))
    if shape.qshape:
        table = Table("domain", *shape.qshape_columns, title="pending recipients by domain and age (minutes)")
        for dom, total, counts in shape.qshape:
            table.add_row(escape(dom), str(total), *(str(c) for c in counts))
        console.print(table)
    console.print()
