"""The queue's shape: counts, sizes, ages, top senders and domains, and a qshape-like table.

Pure: takes messages and a `now`, returns plain values. The domain x age table uses Postfix
qshape's buckets (minutes: 5 10 20 40 80 160 320 640 1280 and older) so admins who know qshape
read it at once; counts are pending recipients, as qshape counts them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.queue.model import QueuedMessage, domain_of

QSHAPE_MINUTES = (5, 10, 20, 40, 80, 160, 320, 640, 1280)
AGE_BUCKETS = ((3600, "<1h"), (6 * 3600, "1-6h"), (24 * 3600, "6-24h"), (3 * 86400, "1-3d"), (7 * 86400, "3-7d"))


@dataclass(frozen=True, slots=True)
class QueueShape:
    messages: int
    total_size: int
    frozen: int
    bounces: int  # null-sender messages (bounces waiting to go out)
    oldest_age: float | None
    age_histogram: dict[str, int]
    top_senders: list[tuple[str, int]]
    top_recipient_domains: list[tuple[str, int]]
    qshape_columns: list[str]
    qshape: list[tuple[str, int, list[int]]]  # (domain, total, counts per column)
    by_local_user: list[tuple[str, int]] = field(default_factory=list)
    by_auth_id: list[tuple[str, int]] = field(default_factory=list)
    by_script: list[tuple[str, int]] = field(default_factory=list)


def _age_label(age: float) -> str:
    for limit, label in AGE_BUCKETS:
        if age < limit:
            return label
    return ">7d"


def analyze_queue(messages: Sequence[QueuedMessage], now: float, top: int = 10) -> QueueShape:
    ages: Counter[str] = Counter({label: 0 for _, label in AGE_BUCKETS} | {">7d": 0})
    senders: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    users: Counter[str] = Counter()
    auths: Counter[str] = Counter()
    scripts: Counter[str] = Counter()
    table: dict[str, list[int]] = {}
    columns = ["T", *(str(m) for m in QSHAPE_MINUTES), f"{QSHAPE_MINUTES[-1]}+"]
    total_size = frozen = bounces = 0
    oldest: float | None = None
    for msg in messages:
        age = msg.age(now)
        if age is not None:
            ages[_age_label(age)] += 1
            oldest = age if oldest is None else max(oldest, age)
        total_size += msg.size or 0
        frozen += msg.frozen
        bounces += msg.sender == ""
        senders[msg.sender or "<>"] += 1
        if msg.local_user:
            users[msg.local_user] += 1
        if msg.auth_id:
            auths[msg.auth_id] += 1
        if msg.script:
            scripts[msg.script] += 1
        col = _qshape_column(age)
        for rcpt in msg.pending:
            dom = domain_of(rcpt) or "(local)"
            domains[dom] += 1
            row = table.setdefault(dom, [0] * (len(columns) - 1))
            row[col] += 1
    rows = sorted(table.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    return QueueShape(
        messages=len(messages),
        total_size=total_size,
        frozen=frozen,
        bounces=bounces,
        oldest_age=oldest,
        age_histogram=dict(ages),
        top_senders=senders.most_common(top),
        top_recipient_domains=domains.most_common(top),
        qshape_columns=columns,
        qshape=[(d, sum(c), c) for d, c in rows[:top]],
        by_local_user=users.most_common(top),
        by_auth_id=auths.most_common(top),
        by_script=scripts.most_common(top),
    )


def _qshape_column(age: float | None) -> int:
    minutes = (age or 0.0) / 60
    for i, limit in enumerate(QSHAPE_MINUTES):
        if minutes < limit:
            return i
    return len(QSHAPE_MINUTES)


@dataclass(frozen=True, slots=True)
class DiskUsage:
    path: str
    spool_bytes: int  # bytes the spool's files take
    free_bytes: int  # available to Exim (not root's reserve)
    total_bytes: int


def read_disk_usage(spool: Path) -> DiskUsage:
    """Size of the spool's files and the free space of the filesystem it lives on."""
    used = 0
    for dirpath, _dirs, files in os.walk(spool):
        for name in files:
            try:
                used += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    st = os.statvfs(spool)
    return DiskUsage(str(spool), used, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)
