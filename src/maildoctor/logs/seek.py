"""Where a message starts in a time-ordered Exim log, from the arrival time in its id.

An Exim message id begins with the arrival time in base 62 (both the 16- and the 23-character
formats), so trace by id can binary-search the log for that time instead of reading all of it.
The log's zone is calibrated on one arrival line (its logged local time against its id's UTC time).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from maildoctor.logs.exim import ID_PATTERN

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # Exim's id digits
_B62 = {c: i for i, c in enumerate(BASE62)}
_CALIBRATE = re.compile(
    rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\S* (?:[+-]\d{4} )?(?:\[\d+\] )?(" + ID_PATTERN.encode() + rb") <= ",
    re.MULTILINE,
)
SEEK_MARGIN = dt.timedelta(hours=3)  # summer-time changes and clock skew


def base62(n: int, width: int) -> str:
    """n as `width` base-62 digits, the way Exim writes the parts of a message id."""
    out = ""
    for _ in range(width):
        n, r = divmod(n, 62)
        out = BASE62[r] + out
    return out


def id_time(message_id: str) -> dt.datetime | None:
    """The arrival time (UTC) encoded in the first 6 base-62 digits of an Exim message id."""
    n = 0
    for c in message_id[:6]:
        if c not in _B62:
            return None
        n = n * 62 + _B62[c]
    try:
        return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=n)
    except OverflowError:
        return None


def _line_time(m: bytes | Any, pos: int, size: int) -> tuple[dt.datetime | None, int]:
    """The time of the first timestamped line at or after pos (a line start), and that line's start."""
    for _ in range(8):
        if pos >= size:
            return None, size
        head = bytes(m[pos: pos + 19])
        try:
            return dt.datetime.strptime(head.decode("ascii"), "%Y-%m-%d %H:%M:%S"), pos
        except (UnicodeDecodeError, ValueError):
            nl = m.find(b"\n", pos)
            pos = size if nl < 0 else nl + 1
    return None, pos


def seek_offset(m: Any, size: int, message_id: str) -> int | None:
    """A line start in a time-ordered Exim log before which message_id cannot appear, or None when
    the log gives no reliable clue (no arrival line to calibrate the zone, ids that are not times)."""
    t_id = id_time(message_id)
    cal = _CALIBRATE.search(bytes(m[: min(size, 1 << 20)]))
    if t_id is None or cal is None:
        return None
    ref_id = id_time(cal.group(2).decode())
    if ref_id is None:
        return None
    logged = dt.datetime.strptime(cal.group(1).decode(), "%Y-%m-%d %H:%M:%S")
    offset = logged - ref_id  # the log's local time minus UTC
    if abs(offset) > dt.timedelta(hours=15):
        return None  # not real ids (test-suite ids) or a broken clock: no shortcut
    target = t_id + offset - SEEK_MARGIN
    last_start = m.rfind(b"\n", 0, max(0, size - 1)) + 1
    last, _ = _line_time(m, last_start, size)
    if last is not None and last < target:
        return size  # the message arrived after this file ends: it cannot be in it
    lo, hi = 0, size
    while hi - lo > 4096:  # the first line at or after target lies in [lo, hi)
        mid = (lo + hi) // 2
        nl = m.find(b"\n", mid)
        start = size if nl < 0 else nl + 1
        t, _ = _line_time(m, start, size)
        if t is None or t >= target:
            hi = mid
        else:
            lo = start
    return m.rfind(b"\n", 0, lo) + 1 if lo else 0
