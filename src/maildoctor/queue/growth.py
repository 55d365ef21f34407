"""How fast the queue grows and when the disk is full, from the log's arrivals and completions.

Pure: takes per-hour arrival counts/bytes and completion counts (from the outbreak aggregate)
and the spool's free space. The rate is the net growth over the last hours the log covers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Growth:
    hours: int  # how many of the log's last hours the rate is measured over
    arrivals_per_hour: float
    completions_per_hour: float
    net_messages_per_hour: float
    net_bytes_per_hour: float
    hours_until_full: float | None  # None when the queue is not growing or free space is unknown


def project_growth(
    arrivals: Mapping[str, tuple[int, int]],
    completions: Mapping[str, int],
    free_bytes: int | None,
    hours: int = 3,
) -> Growth | None:
    """`arrivals`: hour bucket -> (messages, bytes); `completions`: hour bucket -> messages.

    Buckets are sortable strings ('YYYY-MM-DD HH'); the last `hours` buckets that have any
    activity are used. A spooled message takes its size plus about 2 KiB of -H file and
    inode on disk, counted here so the projection errs on the early side.
    """
    buckets = sorted(set(arrivals) | set(completions))[-hours:]
    if not buckets:
        return None
    n = len(buckets)
    arr = sum(arrivals.get(b, (0, 0))[0] for b in buckets)
    arr_bytes = sum(arrivals.get(b, (0, 0))[1] for b in buckets)
    done = sum(completions.get(b, 0) for b in buckets)
    net = (arr - done) / n
    avg = arr_bytes / arr if arr else 0.0
    net_bytes = net * (avg + 2048)
    until = free_bytes / net_bytes if free_bytes is not None and net_bytes > 0 else None
    return Growth(n, arr / n, done / n, net, net_bytes, until)
