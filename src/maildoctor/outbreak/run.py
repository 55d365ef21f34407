"""The outbreak and queue reports assembled from a server root: logs, queue, disk (the I/O edge)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.outbreak.aggregate import Aggregate
from maildoctor.outbreak.fastscan import no_gc, scan_files
from maildoctor.outbreak.plan import ServerInfo, plan_commands, read_server_info
from maildoctor.outbreak.report import SourceReport, analyze_sources, source_keys
from maildoctor.queue.growth import Growth, project_growth
from maildoctor.queue.model import QueueRead
from maildoctor.queue.read import find_main_log, read_queue
from maildoctor.queue.shape import DiskUsage, QueueShape, analyze_queue, read_disk_usage


@dataclass
class QueueReport:
    read: QueueRead | None
    shape: QueueShape | None
    disk: DiskUsage | None
    growth: Growth | None
    now: float


@dataclass
class OutbreakReport:
    logs: list[str]
    lines: int
    log_first: str
    log_last: str
    window: int
    suspects: list[SourceReport]
    queue: QueueReport
    info: ServerInfo
    ids_by_source: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    plans: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def snapshot_time(root: Path, agg: Aggregate | None, read: QueueRead | None) -> float:
    """When the server was looked at: now on a live server (root /); for a copied root, the time it was
    taken (its log's last line, else its newest queued message), so a snapshot reads the same any day."""
    if root.resolve() == Path("/"):
        return time.time()
    if agg is not None and agg.last:
        try:
            # Exim logs local time without a zone: read it in this machine's zone
            return time.mktime(time.strptime(agg.last[:19].decode("ascii"), "%Y-%m-%d %H:%M:%S"))
        except ValueError:
            pass
    arrivals = [m.arrival for m in read.messages if m.arrival is not None] if read is not None else []
    return max(arrivals) if arrivals else time.time()


def build_queue_report(
    root: Path, agg: Aggregate | None, now: float | None = None, read: QueueRead | None = None
) -> QueueReport:
    read = read if read is not None else read_queue(root)
    now = snapshot_time(root, agg, read) if now is None else now
    shape = analyze_queue(read.messages, now) if read is not None else None
    disk = None
    if read is not None and read.kind == "exim-spool" and read.location:
        try:
            disk = read_disk_usage(Path(read.location))
        except OSError:
            disk = None
    growth = None
    if agg is not None and agg.arrivals:
        hourly: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
        for bucket, (n, size) in agg.arrivals.items():
            key = bucket[:13].decode("ascii", "replace")
            m, b = hourly[key]
            hourly[key] = (m + n, b + size)
        done: dict[str, int] = defaultdict(int)
        for bucket, n in agg.completions.items():
            done[bucket[:13].decode("ascii", "replace")] += n
        growth = project_growth(dict(hourly), dict(done), disk.free_bytes if disk else None)
    return QueueReport(read, shape, disk, growth, now)


def ids_per_source(agg: Aggregate, read: QueueRead | None) -> dict[tuple[str, str], list[str]]:
    """Queued message ids of each source: messages the log saw arrive and not complete, that are
    still in the queue; plus queued messages whose spool header names the source."""
    sig_of = {id(st): sig for sig, st in agg.sigs.items()}
    queued = {m.message_id for m in read.messages} if read is not None else None
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for mid_b, st in agg.inflight.items():
        sig = sig_of.get(id(st))
        if sig is None:
            continue
        mid = mid_b.decode("ascii", "replace")
        if queued is not None and mid not in queued:
            continue
        for key in source_keys(sig):
            out[key].add(mid)
    if read is not None:
        for m in read.messages:
            if not m.sender:
                continue
            keys = [("sender", m.sender.lower())]
            if m.auth_id:
                keys.append(("auth_login", m.auth_id))
            if m.local_user and m.host_address is None:
                keys.append(("local_user", m.local_user))
            for key in keys:
                if key in out or key[0] == "sender":
                    out[key].add(m.message_id)
    return {k: sorted(v) for k, v in out.items()}


def default_logs(root: Path) -> list[Path]:
    log = find_main_log(root)
    return [log] if log is not None else []


def build_outbreak_report(
    root: Path,
    logs: Sequence[Path],
    window: int = 3600,
    now: float | None = None,
    queue_read: QueueRead | None = None,
    workers: int | None = None,
) -> OutbreakReport:
    with no_gc():
        return _build_outbreak_report(root, logs, window, now, queue_read, workers)


def _build_outbreak_report(
    root: Path,
    logs: Sequence[Path],
    window: int,
    now: float | None,
    queue_read: QueueRead | None,
    workers: int | None,
) -> OutbreakReport:
    bucket_chars = 13 if window % 3600 == 0 else 16
    agg = scan_files([str(p) for p in logs], bucket_chars=bucket_chars, workers=workers)
    queue = build_queue_report(root, agg, now, queue_read)
    ids = ids_per_source(agg, queue.read)
    suspects = analyze_sources(agg, window, {k: len(v) for k, v in ids.items()})
    mta = "postfix" if queue.read is not None and queue.read.kind == "postqueue" else "exim"
    spool = queue.read.location if queue.read is not None and queue.read.kind == "exim-spool" else None
    info = read_server_info(root, mta, spool)
    plans = {
        (s.kind, s.value): plan_commands(s, ids.get((s.kind, s.value), []), info)
        for s in suspects
        if s.severity.is_problem
    }
    return OutbreakReport(
        logs=[str(p) for p in logs],
        lines=agg.lines,
        log_first=agg.first.decode("ascii", "replace"),
        log_last=agg.last.decode("ascii", "replace"),
        window=window,
        suspects=suspects,
        queue=queue,
        info=info,
        ids_by_source=ids,
        plans=plans,
    )


_CACHE: dict[tuple[str, tuple[tuple[str, int, float], ...]], OutbreakReport] = {}


def cached_outbreak_report(root: Path) -> OutbreakReport | None:
    """One report per root and log state, shared by doctor's outbreak and queue checks.
    None when the root has neither a main log nor a queue."""
    logs = default_logs(root)
    stamp = []
    for p in logs:
        st = p.stat()
        stamp.append((str(p), st.st_size, st.st_mtime))
    key = (str(root.resolve()), tuple(stamp))
    if key not in _CACHE:
        rep = build_outbreak_report(root, logs)
        if not logs and rep.queue.read is None:
            return None
        _CACHE.clear()
        _CACHE[key] = rep
    return _CACHE[key]
