"""Byte-level fast path over Exim main logs: only the lines and fields the outbreak report needs.

One regular expression over large byte blocks picks `<=`, `=>`, `->`, `>>`, `**`, `==`,
Completed and `cwd=` lines; field extraction is plain bytes.find. A big plain file is split at
line boundaries and the parts run in worker processes; each returns an `Aggregate`, merged in log
order. Compressed files run whole in one worker each. `tests/unit/outbreak` checks that this
gives the same aggregate as feeding LogEvents from maildoctor.logs through the same methods.

When the optional C accelerator `_scan` was built at install (setup.py, optional: no compiler,
no accelerator), it replaces scan_block: the same grammar and the same Aggregate updates without
a Python object per line (about 4x faster over a whole run). MAILDOCTOR_PURE_PYTHON=1 turns it
off; test_accel.py checks both give identical aggregates.
"""

from __future__ import annotations

import bz2
import gc
import gzip
import io
import lzma
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO, cast

from maildoctor.outbreak.aggregate import (
    DELIVERED,
    EVIDENCE,
    FAIL_EVIDENCE,
    RCPTS,
    Aggregate,
    Stats,
    is_internal_ip,
)

# A leading newline (not ^ with MULTILINE) lets the regex engine skip to candidate lines with
# its literal-prefix search: about 20% faster. Blocks are scanned with a newline put in front.
_LINE = re.compile(
    rb"\n(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[.\d]*(?: [+-]\d{4})?(?: \[(\d+)(?::\d+)?\])? "
    rb"(?:([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) (<=|=>|->|>>|\*\*|==|Completed)|cwd=)([^\n]*)"
)
BLOCK = 4 << 20
MAX_LINE = 16 << 20
SPLIT_MIN = 64 << 20  # plain files above this are split between workers
_accel: ModuleType | None
try:  # the optional C accelerator (setup.py builds it when a compiler is there); same results
    from maildoctor.outbreak import _scan as _accel
except ImportError:  # pragma: no cover - depends on the install
    _accel = None
USE_ACCEL = _accel is not None and not os.environ.get("MAILDOCTOR_PURE_PYTHON")
_OPENERS: dict[str, Callable[[str], IO[bytes]]] = {
    ".gz": lambda p: cast(IO[bytes], gzip.open(p, "rb")),  # noqa: SIM115 - opened by the caller's with
    ".bz2": lambda p: cast(IO[bytes], bz2.open(p, "rb")),  # noqa: SIM115
    ".xz": lambda p: cast(IO[bytes], lzma.open(p, "rb")),  # noqa: SIM115
}


def parse_arrival_fields(
    rest: bytes,
) -> tuple[bytes, bytes | None, bytes | None, bytes | None, int, list[bytes] | None]:
    """(sender, client ip, U= user, A= login, S= size, recipients of 'for') from a `<=` line's body.

    Plain bytes.find within bounds, no slicing of the line: this runs for every arrival of a big log.
    """
    sp = rest.find(b" ", 1)
    sender = rest[1:] if sp < 0 else rest[1:sp]
    # Fields come before id= and T="..." (id= first when both are logged): a subject cannot fake them.
    cut = rest.find(b" id=")
    if cut < 0:
        cut = rest.find(b' T="')
        if cut < 0:
            cut = len(rest)
    ip = user = auth = None
    h = rest.find(b" H=", 0, cut)
    if h >= 0:
        lb = rest.find(b"[", h, cut)
        rb_ = rest.find(b"]", lb, cut) if lb >= 0 else -1
        ip = rest[lb + 1 : rb_] if rb_ > lb >= 0 else b"unknown"
        i = rest.find(b" A=", h, cut)
        if i >= 0:
            colon = rest.find(b":", i, cut)
            end = rest.find(b" ", i + 3, cut)
            end = cut if end < 0 else end
            auth = rest[(colon + 1 if 0 <= colon < end else i + 3) : end] or None
    else:
        i = rest.find(b" U=", 0, cut)
        if i >= 0:
            end = rest.find(b" ", i + 3, cut)
            user = rest[i + 3 : cut if end < 0 else end]
    size = 0
    i = rest.find(b" S=", 0, cut)
    if i >= 0:
        end = rest.find(b" ", i + 3, cut)
        size_b = rest[i + 3 : cut if end < 0 else end]
        size = int(size_b) if size_b.isdigit() else 0
    rcpts = None
    f = rest.rfind(b" for ")
    if f >= cut or (f >= 0 and cut == len(rest)):
        tail = rest[f + 5 :]
        if b'"' not in tail:
            rcpts = tail.split()
    return sender, ip, user, auth, size, rcpts


def scan_block(agg: Aggregate, block: bytes, path: str, start: int, lines_before: int) -> None:
    """Feed every relevant line of `block` (whole lines) to the aggregate.

    The two commonest lines are handled inline (a delivery of a message whose arrival listed its
    recipients, and Completed); everything else goes through the Aggregate's methods.
    """
    on_arrival = agg.on_arrival
    on_outcome = agg.on_outcome
    inflight_get = agg.inflight.get
    inflight_pop = agg.inflight.pop
    inbound = agg.inbound
    completions = agg.completions
    arrivals = agg.arrivals
    inflight = agg.inflight
    deferred = agg.deferred_ids
    bucket_chars = agg.bucket_chars
    block = b"\n" + block
    cursor = [0, lines_before - 1]  # where the last evidence line was found: (byte position, line number)
    for ts, pid, mid, flag, rest in _LINE.findall(block):
        if flag == b"=>":
            st = inflight_get(mid)
            if st is inbound:
                continue
            if st is not None and st[RCPTS]:
                st[DELIVERED] += 1
                continue
            on_outcome(mid, flag, rest)
        elif flag == b"Completed":
            bucket = ts[:bucket_chars]
            completions[bucket] = completions.get(bucket, 0) + 1
            if inflight_pop(mid, None) is None:
                agg.on_orphan_completed(mid)
            if deferred:
                deferred.discard(mid)
        elif flag == b"<=":
            # Mail from the internet to local users (most arrivals) only counts toward the
            # arrival rate: recognised here without parsing the line (anything unusual, such as
            # a null sender, no [ip] or an " A=" anywhere, takes the full path below).
            h = rest.find(b" H=")
            if h > 0 and not rest.startswith(b" <>") and b" A=" not in rest:
                lb = rest.find(b"[", h)
                rb_ = rest.find(b"]", lb)
                if 0 < lb < rb_ and not is_internal_ip(rest[lb + 1 : rb_]):
                    i = rest.find(b" S=")
                    end = rest.find(b" ", i + 3)
                    size_b = rest[i + 3 : end] if end > 0 else rest[i + 3 :]
                    bucket = ts[:bucket_chars]
                    arr = arrivals.get(bucket)
                    if arr is None:
                        arrivals[bucket] = [1, int(size_b) if i > 0 and size_b.isdigit() else 0]
                    else:
                        arr[0] += 1
                        arr[1] += int(size_b) if i > 0 and size_b.isdigit() else 0
                    inflight[mid] = inbound
                    continue
            sender, ip, user, auth, size, rcpts = parse_arrival_fields(rest)
            st = on_arrival(ts, pid, mid, sender, ip, user, auth, size, rcpts)
            if st is not None:
                st[EVIDENCE].append(_locate(block, mid + b" <=" + rest, path, start, cursor))
        elif not flag:
            sp = rest.find(b" ")
            agg.on_cwd(ts, pid, rest if sp < 0 else rest[:sp])
        elif flag != b">>":
            st = on_outcome(mid, flag, rest)
            if st is not None:
                st[FAIL_EVIDENCE].append(_locate(block, mid + b" " + flag + rest, path, start, cursor))


def scan_block_accel(
    agg: Aggregate,
    block: bytes | memoryview,
    path: str,
    start: int,
    lines_before: int,
    deferred_filter: bytearray | None = None,
) -> int:
    """scan_block through the C accelerator; returns the block's newline count.

    The C code does the common updates itself and hands every other relevant line here, to the
    same Aggregate methods scan_block uses, with its line number and bounds in the block.
    `deferred_filter` (a zeroed bytearray of _scan.DEFERRED_FILTER_BYTES, kept for one aggregate
    since its deferred_ids was empty) spares the C code reading that set at every block."""
    on_arrival = agg.on_arrival
    on_outcome = agg.on_outcome
    deferred = agg.deferred_ids

    def slow(ts: bytes, pid: bytes, mid: bytes, flag: bytes, rest: bytes, lineno: int, a: int, b: int) -> None:
        if flag == b"<=":
            sender, ip, user, auth, size, rcpts = parse_arrival_fields(rest)
            st = on_arrival(ts, pid, mid, sender, ip, user, auth, size, rcpts)
            if st is not None:
                st[EVIDENCE].append((path, start, lineno, str(block[a:b], "utf-8", "replace")))
        elif flag == b"Completed":  # counted by the caller; the message was not in flight
            agg.on_orphan_completed(mid)
            if deferred:
                deferred.discard(mid)
        elif not flag:
            sp = rest.find(b" ")
            agg.on_cwd(ts, pid, rest if sp < 0 else rest[:sp])
        else:
            st = on_outcome(mid, flag, rest)
            if st is not None:
                st[FAIL_EVIDENCE].append((path, start, lineno, str(block[a:b], "utf-8", "replace")))

    assert _accel is not None
    newlines: int = _accel.scan(agg, block, lines_before, slow, path, start, deferred_filter)
    return newlines


def _locate(block: bytes, needle: bytes, path: str, start: int, cursor: list[int]) -> tuple[str, int, int, str]:
    """The evidence line and its number; searches and counts only forward from the end of the last
    one found (so a repeated line is not found twice), so a block costs one pass however many
    evidence lines it gives. The needle (id, flag, rest) is the tail of a line the scanner matched."""
    pos = block.find(needle, cursor[0])
    while pos >= 0:
        line_start = block.rfind(b"\n", 0, pos) + 1
        m = _LINE.match(block, line_start - 1)
        if m is not None and m.start(3) == pos and m.end() == pos + len(needle):
            break
        pos = block.find(needle, pos + 1)
    if pos < 0:
        return (path, start, 0, needle.decode("utf-8", "replace"))
    line_end = pos + len(needle)
    text = block[line_start:line_end]
    cursor[1] += block.count(b"\n", cursor[0], pos)
    cursor[0] = line_end
    return (path, start, cursor[1] + 1, text.decode("utf-8", "replace"))


def _blocks(fh: IO[bytes], limit: int | None) -> Iterator[bytes]:
    """Whole-line blocks of about BLOCK bytes, up to `limit` bytes (None: to the end)."""
    carry = b""
    remaining = limit
    while True:
        want = BLOCK if remaining is None else min(BLOCK, remaining)
        data = fh.read(want) if want > 0 else b""
        if remaining is not None:
            remaining -= len(data)
        if not data:
            if carry:
                yield carry + (b"" if carry.endswith(b"\n") else b"\n")
            return
        data = carry + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            # No line end in sight: binary or hostile input. Keep memory bounded; it is no log line.
            carry = data if len(data) < MAX_LINE else b""
            continue
        carry = data[cut:]
        yield data[:cut]


def _blocks_into(fh: IO[bytes], limit: int | None) -> Iterator[memoryview]:
    """_blocks without a fresh allocation per block: whole-line views into one reused buffer
    (each valid until the next is asked for). Same cuts, same treatment of endless lines."""
    buf = bytearray(BLOCK + MAX_LINE)
    view = memoryview(buf)
    have = 0  # carried bytes of an unfinished line at the front of buf
    remaining = limit
    try:
        while True:
            want = BLOCK if remaining is None else min(BLOCK, remaining)
            n = cast(io.BufferedIOBase, fh).readinto(view[have : have + want]) if want > 0 else 0
            if remaining is not None:
                remaining -= n
            if not n:
                if have:
                    if buf[have - 1] != 0x0A:
                        buf[have] = 0x0A
                        have += 1
                    yield view[:have]
                return
            total = have + n
            cut = buf.rfind(b"\n", 0, total) + 1
            if cut == 0:
                # No line end in sight: binary or hostile input. Keep memory bounded; it is no log line.
                have = total if total < MAX_LINE else 0
                continue
            yield view[:cut]
            have = total - cut
            buf[:have] = view[cut:total]
    finally:
        view.release()


def scan_range(path: str, start: int, end: int | None, bucket_chars: int) -> Aggregate:
    """Worker: the aggregate of bytes [start, end) of a plain file, or of a whole compressed file."""
    agg = Aggregate(bucket_chars)
    suffix = Path(path).suffix
    opener = _OPENERS.get(suffix)
    with opener(path) if opener else open(path, "rb") as fh:
        if opener is None and start:
            fh.seek(start)
        lines = 0
        first = last = b""
        deferred_filter = bytearray(_accel.DEFERRED_FILTER_BYTES) if USE_ACCEL and _accel else None
        limit = None if opener else (None if end is None else end - start)
        blocks: Iterator[bytes | memoryview] = _blocks_into(fh, limit) if USE_ACCEL else _blocks(fh, limit)
        for block in blocks:
            if USE_ACCEL:
                lines += scan_block_accel(agg, block, path, start, lines, deferred_filter)
            else:
                assert isinstance(block, bytes)
                scan_block(agg, block, path, start, lines)
                lines += block.count(b"\n")
            if not first:
                m = _LINE.search(b"\n" + bytes(block[:65536]))
                first = m.group(1) if m else b""
            tail = _LINE.findall(block, max(0, len(block) - 16384))
            if tail:
                last = tail[-1][0]
        agg.note_span(path, start, lines, first, last)
    return agg


def split_points(path: str, parts: int) -> list[tuple[int, int | None]]:
    """Line-aligned byte ranges of a plain file (one range for small or compressed files)."""
    if Path(path).suffix in _OPENERS:
        return [(0, None)]
    size = os.path.getsize(path)
    if size < SPLIT_MIN or parts < 2:
        return [(0, None)]
    bounds = [0]
    with open(path, "rb") as fh:
        for i in range(1, parts):
            fh.seek(size * i // parts)
            fh.readline()
            # Never split between a cwd= line and the arrival it belongs to.
            while b" cwd=" in fh.readline()[:60]:
                pass
            pos = fh.tell()
            if bounds[-1] < pos < size:
                bounds.append(pos)
    bounds.append(size)
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


@contextmanager
def no_gc() -> Iterator[None]:
    """The aggregates hold no reference cycles: the cyclic GC would only rescan their millions of
    live rows, again and again while they grow (and while the report reads them)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _run(task: tuple[str, int, int | None, int]) -> Aggregate:
    with no_gc():
        return scan_range(*task)


def scan_files(paths: Sequence[str], bucket_chars: int = 13, workers: int | None = None) -> Aggregate:
    """The merged aggregate of several log files, in the order given (oldest first)."""
    workers = workers or min(2, os.cpu_count() or 1)
    # One part per worker (more, smaller parts balance better but cost more in pickling and
    # merging than they save, measured on the 1 GiB bench log); merged as they arrive.
    parts = workers
    tasks = [(p, s, e, bucket_chars) for p in paths for s, e in split_points(p, parts)]
    total = Aggregate(bucket_chars)
    with no_gc():
        if workers < 2 or len(tasks) < 2:
            for t in tasks:
                total.merge(_run(t))
        elif len(tasks) == workers:
            # One part each: the parent scans the first part itself while the others run (one
            # aggregate less to pickle, and the parent would only wait).
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers - 1) as pool:
                rest = pool.imap(_run, tasks[1:], chunksize=1)
                total = _run(tasks[0])
                for part in rest:
                    total.merge(part)
        else:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(workers, len(tasks))) as pool:
                for part in pool.imap(_run, tasks, chunksize=1):
                    total.merge(part)
    return total


def stats_evidence(st: Stats) -> list[tuple[str, int, int, str]]:
    return list(st[EVIDENCE]) + list(st[FAIL_EVIDENCE])
