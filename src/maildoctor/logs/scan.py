"""Byte-level prefilter: find the lines that contain a needle, without parsing the rest of the log.

Python cannot parse a gigabyte of log lines quickly, but `find` runs at memory speed. Two phases:

1. The query needle (an id, an address) is searched over the whole input. A plain file is
   memory-mapped and split into parts searched by worker processes in parallel; a compressed
   file or stdin is decompressed in large windows. Each hit gets its line number.
2. A single forward sweep hands the hits to `on_hit` in file order. `on_hit` may return follow-up
   needles (the bounce id from a `<= <> R=parent` line, the ids of an address's messages); those
   are searched only from where they first appear and are retired when their message completes,
   so only the few windows where follow-ups live are read again.

`hit_lines` is the first phase alone for a caller that decides later which hits to follow (trace
by address: the newest messages): batches of matching lines with their text and message id, part
by part, then `scan_triggers` runs the sweep from the chosen lines.

Case-insensitive needles (addresses, Message-IDs) are searched in a lower-cased copy of each
window made with `bytes.translate` (many times faster than `bytes.lower`). Memory stays bounded:
windows are 4 MiB and mapped pages are dropped after use.

When the optional C accelerator `_find` was built (setup.py; `MAILDOCTOR_PURE_PYTHON=1` turns it
off), the first phase and long newline counts run in C on threads (it releases the GIL): one pass
that searches and counts lines at once (SSE2, AVX2 or AVX-512, chosen at run time), reading with
pread into a cache-sized buffer, with the same results as the pure-Python path
(tests/unit/logs/test_logs_scan_accel.py compares them).
"""

from __future__ import annotations

import heapq
import mmap
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from types import ModuleType
from typing import IO, Any

from maildoctor.logs import exim

_accel: ModuleType | None
try:  # the optional C accelerator (same results, several times faster)
    from maildoctor.logs import _find as _accel
except ImportError:  # pragma: no cover - depends on the install
    _accel = None

WINDOW = 4 * 1024 * 1024
CONTEXT = 4096
PARALLEL_MIN = 64 * 1024 * 1024  # smaller files are searched in-process
MAX_LINE = 64 * 1024  # longer lines are cut (Exim itself truncates log lines far below this)
FOLLOW_STEP = 16 * 1024  # first search step of a follow-up needle
BATCH = 8  # this many lagging follow-up needles are searched together with one regex
_LOWER = bytes.maketrans(bytes(range(65, 91)), bytes(range(97, 123)))
_PAGE = mmap.ALLOCATIONGRANULARITY

THREAD_MIN = 8 * 1024 * 1024  # with the accelerator, larger ranges are split between threads
PART = 8 * 1024 * 1024  # `hit_lines` searches parts of this size, one round of parts per thread at a time
BATCH_LINES = 4096  # `hit_lines` without the accelerator: lines cut from the map per batch
_NUMPY: list[Any] = []  # [module or None], imported on first need: it costs 0.1-0.2 s at start-up


def _numpy() -> Any:
    """numpy counts newlines ~3x faster than bytes.count, without copying the map (optional)."""
    if not _NUMPY:
        try:
            import numpy

            _NUMPY.append(numpy)
        except ImportError:  # pragma: no cover - depends on the environment
            _NUMPY.append(None)
    return _NUMPY[0]


class Hit:
    """A matching line. `before` (up to CONTEXT bytes of the lines just before it) is cut from the
    mapped file only when asked for: most hits of a busy address never need it. Use it only
    inside the on_hit call."""

    __slots__ = ("_at", "_before", "_src", "line", "line_no")

    def __init__(self, line_no: int, line: bytes, before: bytes = b"", src: Any = None, at: int = 0) -> None:
        self.line_no = line_no
        self.line = line
        self._before = before
        self._src = src  # the mapped file, when `before` is cut lazily from it at offset `at`
        self._at = at

    @property
    def before(self) -> bytes:
        if self._src is not None:
            self._before = self._src[max(0, self._at - CONTEXT): self._at]
            self._src = None
        return self._before

    def text(self) -> str:
        return self.line.decode("utf-8", errors="replace")


def use_accel() -> bool:
    """Whether the C accelerator runs (read at each scan, so tests can compare both paths)."""
    return _accel is not None and not os.environ.get("MAILDOCTOR_PURE_PYTHON")


def _split(m: Any, a: int, b: int, n: int) -> list[tuple[int, int]]:
    """[a, b) cut into up to n ranges at line starts."""
    parts = [a]
    for i in range(1, n):
        cut = m.find(b"\n", a + (b - a) * i // n, b)
        if cut < 0 or cut + 1 <= parts[-1]:
            continue
        parts.append(cut + 1)
    parts.append(b)
    return [(parts[i], parts[i + 1]) for i in range(len(parts) - 1) if parts[i + 1] > parts[i]]


def _rare_pair(sample: bytes, needle: bytes, ignore_case: bool) -> tuple[int, int]:
    """The two positions of the needle whose bytes are rarest in a sample of the log: the C search
    compares those first, so fewer candidates need checking."""
    if ignore_case:
        sample = sample.translate(_LOWER)
    count: dict[int, int] = {}
    for c in set(needle):
        count[c] = sample.count(bytes([c]))
    order = sorted(range(len(needle)), key=lambda i: (count[needle[i]], i))
    if len(order) < 2:
        return 0, 0
    lo, hi = sorted(order[:2])
    return lo, hi


def _rare_find(fd: int, needle: bytes, icase: bool, i0: int, i1: int, a: int, b: int) -> Any:
    """_accel.find_lines with the positions to compare first (positional: a C function)."""
    assert _accel is not None
    return _accel.find_lines(fd, needle, icase, a, b, i0, i1)


def _on_threads(calls: Sequence[Callable[[], Any]], workers: int = 0) -> list[Any]:
    """Run C calls (they release the GIL) on `workers` threads (default: one per call), this one
    included; each thread takes the next call when done, so a thread slowed by other load does
    less. Results in call order; exceptions are re-raised here. (No concurrent.futures: it costs
    ~6 ms to import.)"""
    out: list[Any] = [None] * len(calls)
    err: list[BaseException] = []
    todo = list(range(len(calls) - 1, -1, -1))

    def run() -> None:
        while todo and not err:
            try:
                i = todo.pop()
            except IndexError:  # another thread took the last one
                return
            try:
                out[i] = calls[i]()
            except BaseException as exc:  # handed to the caller below
                err.append(exc)

    n = min(len(calls), workers or len(calls))
    threads = [threading.Thread(target=run, name="maildoctor-scan") for _ in range(1, n)]
    for t in threads:
        t.start()
    run()
    for t in threads:
        t.join()
    if err:
        raise err[0]
    return out


def _count_nl_fd(fd: int, a: int, b: int, workers: int) -> int:
    """Newlines in [a, b) of a file, by the accelerator (threads for long ranges)."""
    assert _accel is not None
    n = min(workers, max(1, (b - a) // THREAD_MIN))
    if n <= 1:
        return int(_accel.count_newlines(fd, a, b))
    step = (b - a + n - 1) // n
    count = _accel.count_newlines
    return sum(_on_threads([partial(count, fd, r, min(b, r + step)) for r in range(a, b, step)]))


NO_IDS, EXIM_IDS, POSTFIX_IDS = 0, 1, 2  # `line_id` modes
LineHit = tuple[int, int, bytes, "bytes | None"]  # `hit_lines`: (line start, newlines before - base, line, id)
_EXIM_PREFIX = re.compile(exim.PREFIX.pattern.encode())  # the Exim parser's prefix, on bytes: group 12 is the id
_POSTFIX_ID = re.compile(rb"\]: (?!NOQUEUE: )([0-9A-Za-z]{6,20}): ")


def line_id(line: bytes, mode: int) -> bytes | None:
    """The message id of a log line as the accelerator finds it: EXIM_IDS, the id in an Exim line's
    prefix (what the Exim parser takes); POSTFIX_IDS, a queue id after a program's `]: ` within
    the first 160 bytes."""
    if mode == EXIM_IDS:
        m = _EXIM_PREFIX.match(line)
        return m.group(12) if m is not None else None
    if mode == POSTFIX_IDS:
        m = _POSTFIX_ID.search(line, 0, 160)
        return m.group(1) if m is not None else None
    return None


OnHit = Callable[[Hit], Iterable[bytes]]
StartAt = Callable[[mmap.mmap, int], "int | None"]


def _count_nl(buf: Any, a: int, b: int) -> int:
    if b <= a:
        return 0
    if isinstance(buf, bytes):
        return buf.count(b"\n", a, b)
    if b - a < 65536:
        return bytes(buf[a:b]).count(b"\n")
    np = _numpy()
    total = 0
    while a < b:  # bounded temporary arrays
        e = min(b, a + WINDOW)
        if np is not None:
            total += int(np.count_nonzero(np.frombuffer(buf, dtype=np.uint8, count=e - a, offset=a) == 10))
        else:
            total += bytes(buf[a:e]).count(b"\n")
        if isinstance(buf, mmap.mmap) and e - a == WINDOW:
            _drop(buf, a, e)
        a = e
    return total


def _drop(m: mmap.mmap, a: int, b: int) -> None:
    """Drop mapped pages we are done with, so resident memory does not grow with the file."""
    a = max(0, a)
    b = min(b, len(m))
    start = a - a % _PAGE
    if b > start and hasattr(m, "madvise"):
        m.madvise(mmap.MADV_DONTNEED, start, b - start)


def _find_in_part(path: str, needle: bytes, ignore_case: bool, a: int, b: int) -> tuple[list[tuple[int, int]], int]:
    """Line starts (offset, newlines before it within the part) of lines of [a, b) containing needle.

    Returns the hits and the number of newlines in the part. Runs in a worker process.
    """
    hits: list[tuple[int, int]] = []
    np = _numpy() if ignore_case else None
    if np is not None:
        # Folding with `| 0x20` (numpy, vectorised) is ~2x faster than bytes.translate. It also folds
        # a few non-letters together ('@' and '`'), so it may find a little more: the caller parses
        # every hit and keeps only real matches.
        needle = bytes(c | 0x20 for c in needle)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        counted_to, lines = a, 0
        w = a
        while w < b:
            e = min(b, w + WINDOW)
            cut = False
            if e < b:
                nl = m.rfind(b"\n", w, e)
                if nl >= w:
                    e = nl + 1
                else:
                    cut = True  # a line longer than a window (hostile input): overlap the next window
            hay: Any
            if np is not None:
                hay, off = np.bitwise_or(np.frombuffer(m, dtype=np.uint8, count=e - w, offset=w), 0x20).tobytes(), w
            elif ignore_case:
                hay, off = m[w:e].translate(_LOWER), w
            else:
                hay, off = m, 0
            pos = hay.find(needle, w - off, e - off)
            while pos >= 0:
                real = pos + off
                start = max(a, m.rfind(b"\n", a, real) + 1)
                lines += _count_nl(m, counted_to, start)
                counted_to = start
                hits.append((start, lines))
                nxt = m.find(b"\n", real, e)
                if nxt < 0:
                    break
                pos = hay.find(needle, nxt - off, e - off)
            lines += _count_nl(m, counted_to, e)
            counted_to = e
            _drop(m, w, e)
            w = max(w + 1, e - len(needle) + 1) if cut else e
    return hits, lines


class NeedleScanner:
    """Scan one input for lines containing the query needle and the follow-ups `on_hit` returns."""

    def __init__(self, needles: Iterable[bytes], ignore_case: bool = False, workers: int | None = None) -> None:
        self.ignore_case = ignore_case
        self.permanent: list[bytes] = []
        self.active: list[bytes] = []
        for n in needles:
            n = self._norm(n)
            if n and n not in self.permanent:
                self.permanent.append(n)
        self.workers = workers if workers is not None else min(4, os.cpu_count() or 1)
        self.error: str | None = None
        self.lines = 0
        self._fd: int | None = None  # the plain file being scanned (for the accelerator)

    def _norm(self, n: bytes) -> bytes:
        return n.translate(_LOWER) if self.ignore_case else n

    def add(self, needle: bytes) -> bool:
        """Follow a new needle (an id: exact case) from here on."""
        if not needle or needle in self.active or self._norm(needle) in self.permanent:
            return False
        self.active.append(needle)
        return True

    def retire(self, needle: bytes) -> None:
        """Stop searching for a follow-up needle (its message is complete)."""
        if needle in self.active:
            self.active.remove(needle)

    # --- plain files: parallel first phase, then a sweep over the map -------------------------
    def scan_path(self, path: str, on_hit: OnHit, start_at: StartAt | None = None) -> None:
        """Scan a plain file. `start_at(map, size)` may name an offset before which the permanent
        needles cannot occur (an Exim id's arrival time, found by binary search): they are then
        followed from there like follow-up needles, and the first phase is skipped."""

        def run(m: mmap.mmap, size: int) -> None:
            start = start_at(m, size) if start_at is not None else None
            if start is not None:
                self._sweep(m, size, [], on_hit, seek=(start, self.permanent))
                return
            assert self._fd is not None
            triggers = self._first_phase(path, m, size, self._fd)
            if m[size - 1: size] != b"\n":
                self.lines += 1  # a last line without a newline
            self._sweep(m, size, triggers, on_hit)

        self._mapped(path, run)

    def _mapped(self, path: str, run: Callable[[mmap.mmap, int], None]) -> None:
        """run(map, size) on a plain file mapped read-only, its descriptor kept for the accelerator
        meanwhile; an empty file is not mapped (nothing to do)."""
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return
            self._fd = fh.fileno()
            try:
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
                    run(m, size)
            finally:
                self._fd = None

    def hit_lines(self, path: str, id_mode: int = NO_IDS) -> Iterator[tuple[int, list[LineHit]]]:
        """The lines of a plain file holding the (single) permanent needle, as batches in file
        order: (base, [(line start, newlines before it minus base, line, message id: see
        `line_id`)]), the line number being base + before + 1. The accelerator searches the file in
        rounds of parts (one per thread) and returns each line (and its id) with its hit, so memory
        stays bounded by a round's hits and no Python step is spent on a line the caller skips."""
        if len(self.permanent) != 1:
            raise ValueError("hit_lines searches one needle")
        with open(path, "rb") as fh:
            fd = fh.fileno()
            size = os.fstat(fd).st_size
            if size == 0:
                return
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as m:
                last_nl = m[size - 1: size] == b"\n"
                ranges = _split(m, 0, size, max(1, -(-size // PART)))
                if not use_accel():
                    base = 0
                    for hits, lines in self._pure_parts(path, ranges, size, self.permanent[0]):
                        for i in range(0, len(hits), BATCH_LINES):
                            part = hits[i: i + BATCH_LINES]
                            texts = [(s, n, _line_at(m, s, size)) for s, n in part]
                            _drop(m, part[0][0], part[-1][0] + MAX_LINE)  # resident memory stays flat
                            yield base, [(s, n, text, line_id(text, id_mode)) for s, n, text in texts]
                        base += lines
                    self.lines = base + (0 if last_nl else 1)
                    return
                assert _accel is not None
                i0, i1 = _rare_pair(m[: 1 << 16], self.permanent[0], self.ignore_case)
            find = partial(_accel.find_lines, fd, self.permanent[0], self.ignore_case)
            base = 0
            for r0 in range(0, len(ranges), self.workers):
                calls = [partial(find, a, b, i0, i1, True, id_mode) for a, b in ranges[r0: r0 + self.workers]]
                results = _on_threads(calls) if len(calls) > 1 else [calls[0]()]
                results.reverse()
                while results:  # each part's lines are dropped here once handed out (memory)
                    hits, lines = results.pop()
                    if hits:
                        yield base, hits
                    base += lines
                    del hits
            self.lines = base + (0 if last_nl else 1)

    def _pure_parts(self, path: str, ranges: list[tuple[int, int]], size: int,
                    needle: bytes) -> Iterator[tuple[list[Any], int]]:
        """`_find_in_part` of each range in order, in worker processes for a large file (a round
        of `workers` parts at a time, so memory stays bounded)."""
        if size >= PARALLEL_MIN and self.workers > 1 and len(ranges) > 1:
            from concurrent.futures import ProcessPoolExecutor  # only here: ~10 ms of imports
            from concurrent.futures.process import BrokenProcessPool
            from multiprocessing import get_context

            done = 0
            try:
                with ProcessPoolExecutor(self.workers, mp_context=get_context("fork")) as pool:
                    for r0 in range(0, len(ranges), self.workers):
                        rnd = ranges[r0: r0 + self.workers]
                        futs = [pool.submit(_find_in_part, path, needle, self.ignore_case, a, b) for a, b in rnd]
                        for f in futs:
                            res = f.result()
                            done += 1
                            yield res
            except (OSError, BrokenProcessPool):  # no processes allowed here: the rest in-process
                pass
            ranges = ranges[done:]
        for a, b in ranges:
            yield _find_in_part(path, needle, self.ignore_case, a, b)

    def scan_triggers(self, path: str, triggers: list[tuple[int, int]], on_hit: OnHit) -> None:
        """Hand on_hit the given lines ((line start, line number) pairs in file order, from
        `hit_lines`) and the lines of the follow-up needles it returns, as `scan_path` does."""
        self._mapped(path, lambda m, size: self._sweep(m, size, triggers, on_hit))

    def _first_phase(self, path: str, m: mmap.mmap, size: int, fd: int) -> list[tuple[int, int]]:
        """(line start, line number) of every line containing a permanent needle, in file order."""
        accel = use_accel()
        if accel:  # parts of >= 32 MiB, four per thread, taken by whichever thread is free
            n = min(4 * self.workers, max(1, size // (4 * THREAD_MIN))) if size >= THREAD_MIN else 1
        else:
            n = self.workers if size >= PARALLEL_MIN else 1
        ranges = _split(m, 0, size, n)
        found: dict[int, int] = {}
        for needle in self.permanent:
            results: list[tuple[list[tuple[int, int]], int]] = []
            if accel:
                assert _accel is not None
                i0, i1 = _rare_pair(m[: 1 << 16], needle, self.ignore_case)
                find = partial(_rare_find, fd, needle, self.ignore_case, i0, i1)
                if len(ranges) > 1:
                    results = _on_threads([partial(find, a, b) for a, b in ranges], self.workers)
                else:
                    results = [find(a, b) for a, b in ranges]
            else:
                results = list(self._pure_parts(path, ranges, size, needle))
            base = 0
            for hits, lines in results:
                for start, before in hits:
                    found[start] = base + before + 1
                base += lines
            self.lines = base
        return sorted(found.items())

    def _sweep(self, m: mmap.mmap, size: int, triggers: list[tuple[int, int]], on_hit: OnHit,
               seek: tuple[int, list[bytes]] | None = None) -> None:
        """Hand every hit to on_hit in file order: the first phase's hits and follow-up needles' hits.

        Follow-up needles are searched lazily in growing steps from where they appeared (a message's
        lines are usually a few KB apart), and only as far as needed to keep hits in order.
        """
        # follow-up needle -> [searched up to, next step]; needles given before the scan start at 0
        state: dict[bytes, list[int]] = {n: [0, FOLLOW_STEP] for n in self.active}
        if seek is not None:
            for n in seek[1]:
                if n not in self.active:
                    self.active.append(n)
                state[n] = [seek[0], FOLLOW_STEP]
        heap: list[tuple[int, int]] = []  # (line start, line number or 0 when not known yet)
        ti = 0
        ref_off, ref_line = 0, 1  # a known (line start, line number) pair
        last_start = -1
        dropped = 0
        # no follow-up needle has been searched less far than this (retired needles may make it
        # too low, which only costs a look): spares a pass over the needles for most hits
        floor = 0
        while True:
            nxt = heap[0][0] if heap else size
            if ti < len(triggers) and triggers[ti][0] < nxt:
                nxt = triggers[ti][0]
            if nxt >= floor:
                lag = [n for n in self.active if state[n][0] <= nxt and state[n][0] < size]
                if lag:
                    self._extend(m, size, lag, state, heap)
                    continue
                floor = min((state[n][0] for n in self.active if state[n][0] < size), default=size + 1)
            if ti < len(triggers) and (not heap or triggers[ti][0] <= heap[0][0]):
                start, line_no = triggers[ti]
                ti += 1
            elif heap:
                start, line_no = heapq.heappop(heap)
            else:
                break
            if start <= last_start:
                continue  # the same line found by two needles
            end = m.find(b"\n", start, start + MAX_LINE)
            end = min(size, start + MAX_LINE) if end < 0 else end
            line = m[start:end].rstrip(b"\r")
            if not line_no and not any(n in line for n in self.active):
                continue  # found ahead by a follow-up needle that was retired since
            last_start = start
            if start - dropped > WINDOW:  # keep resident memory flat: forget the pages behind us
                _drop(m, dropped, start - CONTEXT)
                dropped = start - CONTEXT
            if not line_no:
                line_no = ref_line + self._count(m, ref_off, start)
            ref_off, ref_line = start, line_no
            for new in on_hit(Hit(line_no, line, src=m, at=start)):
                if self.add(new):
                    state[new] = [end, FOLLOW_STEP]
                    floor = min(floor, end)

    def _count(self, m: mmap.mmap, a: int, b: int) -> int:
        """Newlines in [a, b) of the mapped file."""
        if b - a >= 65536 and use_accel() and self._fd is not None:
            return _count_nl_fd(self._fd, a, b, self.workers)
        return _count_nl(m, a, b)

    def _extend(self, m: mmap.mmap, size: int, lag: list[bytes], state: dict[bytes, list[int]],
                heap: list[tuple[int, int]]) -> None:
        """Search lagging follow-up needles one step further (many at once with one regex, or in
        one read by the accelerator)."""
        fd = self._fd if use_accel() else None
        if fd is not None or len(lag) >= BATCH:
            # all the active needles at once, in growing steps like a single needle's (a message
            # that never completes is searched to the end of the file in a few large reads)
            lo = min(state[n][0] for n in lag)
            step = min(state[n][1] for n in lag)
            hi = _line_end(m, min(size, lo + step), size)
            if fd is not None:
                assert _accel is not None  # lo (and each cut) is a line start or the newline ending one
                ranges = _split(m, lo, hi, min(self.workers, max(1, (hi - lo) // THREAD_MIN)))
                for starts in _on_threads([partial(_accel.find_line_starts, fd, self.active, a, b)
                                           for a, b in ranges]):
                    for start in starts:
                        heapq.heappush(heap, (start, 0))
            else:
                pattern = re.compile(b"|".join(re.escape(n) for n in self.active))
                for mt in pattern.finditer(m, lo, hi):
                    heapq.heappush(heap, (m.rfind(b"\n", 0, mt.start()) + 1, 0))
            cap = WINDOW * (8 if fd is not None else 1)
            for n in self.active:
                if state[n][0] >= lo:
                    state[n] = [max(state[n][0], hi), min(cap, max(state[n][1], step * 4))]
            return
        for n in lag:
            a, step = state[n]
            b = _line_end(m, min(size, a + step), size)
            if fd is not None:
                assert _accel is not None
                for start in _accel.find_line_starts(fd, [n], a, b):
                    heapq.heappush(heap, (start, 0))
            else:
                _push_needle(m, n, a, b, heap)
            state[n] = [b, min(WINDOW, step * 4)]

    # --- streams (decompressors, stdin): one pass over windows of whole lines ----------------
    def scan(self, fh: IO[bytes], on_hit: OnHit) -> None:
        from maildoctor.logs.read import SalvagingReader, _corrupt_message

        base_line = 0
        tail = b""
        rest = b""
        src = SalvagingReader(fh)
        while True:
            try:
                data = src.read(WINDOW)
            except (EOFError, OSError, ValueError) as exc:
                self.error = _corrupt_message(exc)
                data = b""
            if not data:
                if rest:
                    buf = rest if rest.endswith(b"\n") else rest + b"\n"
                    base_line += self._stream_window(buf, base_line, tail, on_hit)
                self.lines = base_line
                return
            buf = rest + data if rest else data
            cut = buf.rfind(b"\n")
            keep = 0
            if cut < 0 and len(buf) >= WINDOW:
                # no newline in a whole window (hostile input): cut the line, keeping enough of its
                # end that a needle across the cut is still found (it cannot fit in the kept part)
                keep = max(len(n) for n in (*self.permanent, *self.active, b"x")) - 1
                cut = len(buf) - 1 - keep
            if cut < 0:
                rest = buf
                continue
            rest = buf[cut + 1:]
            chunk = buf[: cut + 1]
            base_line += self._stream_window(chunk, base_line, tail, on_hit)
            tail = chunk[-CONTEXT:]

    def _stream_window(self, buf: bytes, base_line: int, tail: bytes, on_hit: OnHit) -> int:
        hay = buf.translate(_LOWER) if self.ignore_case else buf
        heap: list[int] = []
        for n in self.permanent:
            _push_stream(hay, n, 0, heap)
        for n in self.active:
            _push_stream(buf, n, 0, heap)
        counted_to, lines = 0, 0
        seen: set[int] = set()
        while heap:
            pos = heapq.heappop(heap)
            start = buf.rfind(b"\n", 0, pos) + 1
            if start in seen:
                continue
            seen.add(start)
            end = buf.find(b"\n", pos)
            end = len(buf) if end < 0 else end
            end = min(end, start + MAX_LINE)
            lines += buf.count(b"\n", counted_to, start)
            counted_to = start
            ctx = buf[max(0, start - CONTEXT): start]
            if len(ctx) < CONTEXT and tail:
                ctx = tail[-(CONTEXT - len(ctx)):] + ctx
            for new in on_hit(Hit(base_line + lines + 1, buf[start:end].rstrip(b"\r"), ctx)):
                if self.add(new):
                    _push_stream(buf, new, end, heap)
        return lines + buf.count(b"\n", counted_to)


def _push_stream(hay: bytes, needle: bytes, start: int, heap: list[int]) -> None:
    pos = hay.find(needle, start)
    while pos >= 0:
        heapq.heappush(heap, pos)
        nxt = hay.find(b"\n", pos)
        if nxt < 0:
            break
        pos = hay.find(needle, nxt)


def _push_needle(m: mmap.mmap, needle: bytes, a: int, b: int, heap: list[tuple[int, int]]) -> None:
    pos = m.find(needle, a, b)
    while pos >= 0:
        start = m.rfind(b"\n", 0, pos) + 1
        heapq.heappush(heap, (start, 0))
        nxt = m.find(b"\n", pos, b)
        if nxt < 0:
            break
        pos = m.find(needle, nxt, b)


def _line_at(m: mmap.mmap, start: int, size: int) -> bytes:
    """The line starting at `start` without its newline and trailing CRs, cut at MAX_LINE."""
    end = m.find(b"\n", start, start + MAX_LINE)
    return m[start: min(size, start + MAX_LINE) if end < 0 else end].rstrip(b"\r")


def _line_end(m: mmap.mmap, pos: int, size: int) -> int:
    """The offset just after the line containing pos (or size)."""
    if pos >= size:
        return size
    nl = m.find(b"\n", pos)
    return size if nl < 0 else nl + 1
