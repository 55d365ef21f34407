"""Trace messages through the mail log: by Exim id, Postfix queue id, Message-ID or address.

Only lines that contain the query (or an id found on the way) are parsed, thanks to the byte-level
scanner; everything else in the log is skipped at memory speed. An Exim id carries its arrival time,
so a query by id binary-searches the log for that time and follows the message from there.
The result is one `MessageStory` per message: how it arrived, what happened to each recipient, its
final state, related messages (the bounce or delay warning it caused, its parent) and the raw lines
as evidence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import sys
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from maildoctor.errors import UsageError
from maildoctor.logs import exim as exim_fmt
from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.formats import LogFormat, sniff_format
from maildoctor.logs.read import (
    InputProblem,
    InputProblems,
    SalvagingReader,
    _corrupt_message,
    expand_paths,
    file_year,
    looks_binary,
    open_binary,
)
from maildoctor.logs.scan import (
    BATCH_LINES,
    CONTEXT,
    EXIM_IDS,
    POSTFIX_IDS,
    Hit,
    LineHit,
    NeedleScanner,
    line_id,
)
from maildoctor.logs.seek import seek_offset
from maildoctor.logs.story import MessageStory, build_story

__all__ = ["MessageStory", "TraceResult", "classify_query", "trace"]

_CWD = re.compile(rb"(?:\[(\d+)\] )?cwd=(\S+)[^\n]*\n?$")


@dataclass
class TraceResult:
    query: str
    query_kind: str  # exim_id | postfix_id | message_id | address
    messages: list[MessageStory] = field(default_factory=list)
    problems: InputProblems = field(default_factory=InputProblems)
    files: list[str] = field(default_factory=list)
    more: int = 0  # matching messages beyond the limit, counted but not traced
    limit: int = 0

    def by_id(self, message_id: str) -> MessageStory | None:
        for m in self.messages:
            if m.id == message_id:
                return m
        return None


def classify_query(query: str) -> tuple[str, str]:
    """(kind, needle): an Exim id, a Postfix queue id, a Message-ID (`<...>`) or an address."""
    q = query.strip()
    if not q:
        raise UsageError("empty query: give an Exim id, a Postfix queue id, a Message-ID or an email address")
    if exim_fmt.is_message_id(q):
        return "exim_id", q
    if q.startswith("<") and q.endswith(">") and len(q) > 2:
        return "message_id", q[1:-1]
    if "@" in q:
        return "address", q
    from maildoctor.logs.postfix import is_queue_id

    if is_queue_id(q):
        return "postfix_id", q
    raise UsageError(f"{query!r} is not an Exim message id, a Postfix queue id, a Message-ID or an email address")


DEFAULT_LIMIT = 100
_ISO_TIME = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
KEEP_TEXT = 8  # hit lines kept per candidate message to check that the query really names it
SEEN_GENERATION = 100_000  # message ids per generation of the first pass's seen set (~10 MB)


@dataclass
class _Source:
    """One readable log of the trace: stdin and pipes are first copied to a temporary file, so
    that every source can be read twice (first the query's lines, then the chosen messages')."""

    name: str
    path: Path
    fmt: LogFormat
    year: int | None
    plain: bool  # a regular uncompressed file: mapped and searched in place
    identity: tuple[int, int, int] = (0, 0, 0)  # device, inode, size when opened

    def replaced(self) -> bool:
        """Whether the file was rotated away or truncated since it was opened (a live server's log
        may be, between the two passes): the offsets found in the first pass would not hold."""
        try:
            st = self.path.stat()
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self.identity[:2] or st.st_size < self.identity[2]

    @property
    def exim(self) -> bool:
        return self.fmt.name == "exim"

    @property
    def id_mode(self) -> int:
        """How `scan.line_id` finds this log's message ids."""
        return EXIM_IDS if self.exim else POSTFIX_IDS

    def parse(self, raw: bytes, line_no: int) -> LogEvent:
        return self.fmt.parse_line(raw.decode("utf-8", errors="replace"), self.year, self.name, line_no)


@dataclass
class _Candidate:
    id: str
    # (source index, line start, line number) of its lines in the batches kept: the second pass
    # starts there and follows the id (every line of a message holds its id)
    hits: list[tuple[int, int, int]] = field(default_factory=list)
    texts: list[tuple[int, int, bytes]] = field(default_factory=list)  # (source index, line number, line)


def _idless(line: bytes, exim: bool) -> bool:
    """Whether a line without a message id where `scan.line_id` looks belongs to no message: an
    Exim line has its id in the prefix (where the parser takes it) unless it is syslog-wrapped.
    Such lines (rejections, authentication failures: most lines of a busy address) are not parsed."""
    return exim and b"exim[" not in line


def _relevant(kind: str, needle: str, ev: LogEvent) -> bool:
    """Whether a parsed line names the query (an id query: the message or its bounce)."""
    low = needle.lower()
    if kind in ("exim_id", "postfix_id"):
        return ev.message_id == needle or ev.parent_id == needle
    if ev.header_message_id and ev.header_message_id.lower() == low:
        return True
    if kind == "message_id":
        return False
    addrs = [ev.sender, ev.recipient, ev.original_recipient, ev.auth_id]
    addrs.extend(ev.extra.get("recipients", "").split())
    return any(a is not None and a.lower() == low for a in addrs)


class _Window:
    """since/until on events, and a cheap test on a raw line's leading ISO time (Exim's)."""

    def __init__(self, since: dt.datetime | None, until: dt.datetime | None) -> None:
        self.since, self.until = since, until
        self.lo = since.strftime("%Y-%m-%d %H:%M:%S").encode() if since else None
        # until 10:00:00 includes 10:00:00.5 (a fraction is compared on the parsed event)
        self.hi = until.strftime("%Y-%m-%d %H:%M:%S").encode() if until else None

    def event(self, ev: LogEvent) -> bool:
        if ev.time is None:
            return True
        t = ev.time.replace(tzinfo=None)
        return not ((self.since and t < self.since) or (self.until and t > self.until))

    def line(self, line: bytes, src: _Source, line_no: int) -> bool:
        if self.lo is None and self.hi is None:
            return True
        if _ISO_TIME.match(line):
            t = line[:19]
            return not ((self.lo and t < self.lo) or (self.hi and t > self.hi))
        return self.event(src.parse(line, line_no))


class _Chooser:
    """First pass of an address or Message-ID query: every line naming the query gives its
    message id; the newest `limit` messages are traced in full, the others only counted.

    Lines come in batches in log order. A batch is kept only while it holds some of the newest
    `keep` first appearances, so memory does not grow with the log, and the lines of a busy
    address cost set operations, not a Python step each."""

    def __init__(self, kind: str, needle: str, limit: int, window: _Window, sources: list[_Source]) -> None:
        self.kind, self.needle, self.limit, self.window, self.sources = kind, needle, limit, window, sources
        # ids seen, in two generations: when the newer holds SEEN_GENERATION ids the older is
        # dropped, so memory stays bounded (a few tens of MB) however many messages match. The count
        # is exact unless a message reappears after that many others (then it counts twice).
        self.seen: set[bytes] = set()
        self.older: set[bytes] = set()
        self.counted = 0
        self.keep = 2 * limit + 16  # candidates kept: room for those the query does not really name
        # (source, line number base, lines, ids first seen there)
        self.tail: deque[tuple[int, int, list[LineHit], set[bytes]]] = deque()
        self.tail_new = 0

    def feed(self, si: int, base: int, hits: list[LineHit]) -> None:
        """Take a batch of lines of source `si` naming the query, in log order, as `hit_lines`
        gives them (line number base + before + 1; the id as `scan.line_id` finds it or None)."""
        src = self.sources[si]
        if self.window.lo is not None or self.window.hi is not None:
            hits = [h for h in hits if self.window.line(h[2], src, base + h[1] + 1)]
        ids = {h[3] for h in hits}
        if None in ids and [h for h in hits if h[3] is None and not _idless(h[2], src.exim)]:
            hits = [h if h[3] is not None else (*h[:3], self._other_id(src, h[2], base + h[1] + 1)) for h in hits]
            ids = {h[3] for h in hits}
        new = {i for i in ids if i is not None} - self.seen - self.older
        if not new:
            return  # lines of older messages only (the second pass follows their ids anyway)
        self.seen |= new
        self.counted += len(new)
        if len(self.seen) >= SEEN_GENERATION:
            self.older, self.seen = self.seen, set()
        if len(hits) > 8 * self.keep and len(new) > self.keep:
            hits, new = self._newest(hits, new)  # a flood: keep only what the newest candidates need
        self.tail.append((si, base, hits, new))
        self.tail_new += len(new)
        while self.tail_new - len(self.tail[0][3]) >= self.keep:
            self.tail_new -= len(self.tail.popleft()[3])

    def _newest(self, hits: list[LineHit], new: set[bytes]) -> tuple[list[LineHit], set[bytes]]:
        """The lines of a batch from the first line of the `keep` newest messages first seen in it."""
        first: dict[bytes | None, int] = {}
        for i, h in enumerate(hits):
            if h[3] in new and h[3] not in first:
                first[h[3]] = i
        kept = list(first)[-self.keep:]
        return hits[first[kept[0]]:], {q for q in kept if q is not None}

    @staticmethod
    def _other_id(src: _Source, line: bytes, line_no: int) -> bytes | None:
        """The message id of a line without one at the usual place. An Exim line has it in its
        prefix, so without one there is no message (a rejection, an authentication failure) unless
        the line is syslog-wrapped; other lines are parsed."""
        if _idless(line, src.exim):
            return None
        mid = src.parse(line, line_no).message_id
        return mid.encode() if mid is not None else None

    def names_query(self, c: _Candidate) -> bool:
        for si, line_no, line in c.texts:
            ev = self.sources[si].parse(line, line_no)
            if ev.message_id == c.id and self.window.event(ev) and _relevant(self.kind, self.needle, ev):
                return True
        return False

    def candidates(self) -> OrderedDict[bytes, _Candidate]:
        """The messages first seen in the batches kept, by first appearance."""
        found: OrderedDict[bytes, _Candidate] = OrderedDict()
        for si, base, hits, new in self.tail:
            for start, before, line, qid in hits:
                if qid is None:
                    continue
                line_no = base + before + 1
                c = found.get(qid)
                if c is None:
                    if qid not in new:
                        continue  # first seen in an older batch
                    c = found[qid] = _Candidate(qid.decode())
                c.hits.append((si, start, line_no))
                if len(c.texts) < KEEP_TEXT:
                    c.texts.append((si, line_no, line))
        return found

    def choose(self) -> tuple[dict[str, _Candidate], int]:
        """The newest `limit` messages the query names (in log order), and how many others matched."""
        chosen: list[_Candidate] = []
        dropped = 0
        for c in reversed(self.candidates().values()):
            if len(chosen) == self.limit:
                break
            if self.names_query(c):
                chosen.append(c)
            else:
                dropped += 1
        return {c.id: c for c in reversed(chosen)}, self.counted - len(chosen) - dropped


class _Collector:
    """The on_hit callback of the second pass: parse the lines of the chosen messages (an id
    query: of the message and its bounce), keep their events, return new needles."""

    def __init__(self, kind: str, needle: str, src: _Source, window: _Window, events: dict[str, list[LogEvent]],
                 cwd: dict[str, tuple[str, str, int]], chosen: dict[str, _Candidate] | None) -> None:
        self.kind = kind
        self.needle = needle
        self.src = src
        self.window = window
        self.events = events
        self.cwd = cwd
        self.chosen = chosen
        self.wanted: set[str] = set(events)  # ids known from earlier files of a rotated set
        self.scanner: NeedleScanner | None = None

    def __call__(self, hit: Hit) -> Iterable[bytes]:
        qid = line_id(hit.line, self.src.id_mode)
        if qid is None and _idless(hit.line, self.src.exim):
            return ()
        # Lines of messages that were not chosen are not parsed (a busy address has thousands);
        # a bounce (`<= <> R=parent`) is parsed: it may be a chosen message's child.
        if self.chosen is not None and qid is not None and b"<= <> R=" not in hit.line:
            q = qid.decode()
            if q not in self.wanted and q not in self.chosen:
                return ()
        ev = self.src.parse(hit.line, hit.line_no)
        mid = ev.message_id
        if mid is None or not self.window.event(ev):
            return ()
        new: list[bytes] = []
        child = ev.kind is EventKind.ARRIVAL and ev.parent_id is not None and ev.parent_id in self.wanted
        if mid not in self.wanted and not child:
            if self.chosen is not None and mid not in self.chosen:
                return ()
            if self.chosen is None and not _relevant(self.kind, self.needle, ev):
                return ()
        if mid not in self.wanted:
            self.wanted.add(mid)
            new.append(mid.encode())
            if ev.kind is not EventKind.ARRIVAL:
                self._look_back(mid, hit)
        self.events.setdefault(mid, []).append(ev)
        if ev.kind is EventKind.COMPLETED and self.scanner is not None:
            self.scanner.retire(mid.encode())  # nothing of this message comes after Completed
        # The bounce or delay warning this message caused: `<= <> R=parent`; Postfix: notification qid.
        if ev.parent_id and ev.parent_id not in self.wanted and (ev.format == "postfix" or ev.parent_id in self.wanted):
            self.wanted.add(ev.parent_id)
            new.append(ev.parent_id.encode())
            self._look_back(ev.parent_id, hit)  # Postfix logs the notification's cleanup line first
        fwd = ev.extra.get("forwarded_as")
        if fwd and fwd not in self.wanted:
            self.wanted.add(fwd)
            new.append(fwd.encode())
        if ev.kind is EventKind.ARRIVAL and ev.protocol == "local" and ev.local_user:
            self._find_cwd(ev, hit.before)
        return new

    def _look_back(self, mid: str, hit: Hit) -> None:
        """Lines of a newly found message just before the line that revealed it (Postfix's smtpd
        `client=` line before `message-id=`; an Exim arrival without the recipient list)."""
        key = mid.encode()
        lines = hit.before.split(b"\n")[:-1]
        if len(hit.before) >= CONTEXT:
            lines = lines[1:]  # the context was cut: its first piece may be a partial line
        for back, raw in enumerate(reversed(lines), 1):
            if key in raw:
                ev = self.src.parse(raw, hit.line_no - back)
                if ev.message_id == mid and self.window.event(ev):
                    self.events.setdefault(mid, []).insert(0, ev)

    def _find_cwd(self, ev: LogEvent, before: bytes) -> None:
        """cPanel logs the script's directory on a `cwd=` line written just before the `<=` line."""
        lines = before.split(b"\n")[-12:]
        for raw in reversed(lines):
            i = raw.find(b"cwd=")
            if i < 0:
                continue
            if ev.pid is not None and b"[" in raw[:i] and f"[{ev.pid}]".encode() not in raw[:i]:
                continue
            cwd_ev = self.src.parse(raw, 0)
            if cwd_ev.kind is EventKind.LOCAL_SUBMISSION and cwd_ev.script_path:
                assert ev.message_id is not None
                back = len(lines) - 1 - lines.index(raw)  # lines[-1] is the empty text after the last newline
                self.cwd[ev.message_id] = (cwd_ev.script_path, cwd_ev.raw, ev.line_no - back)
                return


def _naive(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=None) if t is not None else None


def trace(
    query: str,
    paths: Sequence[Path | str],
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> TraceResult:
    """Find the messages matching `query` in the logs and tell each one's story: an id's message
    (and the bounce or warning it caused); for an address or a Message-ID, the newest `limit`
    matching messages (and theirs), `result.more` counting the older ones."""
    kind, needle = classify_query(query)
    result = TraceResult(query=query, query_kind=kind, limit=limit)
    window = _Window(_naive(since), _naive(until))
    with contextlib.ExitStack() as cleanup:
        sources = []
        for path in expand_paths(paths, result.problems):
            name = "<stdin>" if str(path) == "-" else str(path)
            result.files.append(name)
            src = _open_source(path, name, result.problems, cleanup)
            if src is not None:
                sources.append(src)
        chosen: dict[str, _Candidate] | None = None
        if kind in ("address", "message_id"):
            chooser = _Chooser(kind, needle, limit, window, sources)
            for si, src in enumerate(sources):
                _first_pass(src, si, needle, chooser, result.problems)
            chosen, result.more = chooser.choose()
        events: dict[str, list[LogEvent]] = {}
        cwd: dict[str, tuple[str, str, int]] = {}
        reported = {p.source for p in result.problems}
        for si, src in enumerate(sources):
            problems: list[InputProblem] = []
            _second_pass(src, si, kind, needle, window, events, cwd, chosen, problems)
            result.problems.extend(p for p in problems if p.source not in reported)
    stories = {mid: build_story(mid, evs, cwd.get(mid)) for mid, evs in events.items()}
    _link(stories)
    result.messages = list(stories.values())
    return result


def _open_source(path: Path, name: str, problems: list[InputProblem], cleanup: contextlib.ExitStack) -> _Source | None:
    """Check that a log can be read and what format it is in; copy stdin or a pipe to a temporary
    file (removed when the trace ends). None, with the problem noted, when it cannot be used."""
    try:
        if name == "<stdin>" or not path.is_file():
            path = _spool(open_binary(path) if name != "<stdin>" else sys.stdin.buffer, cleanup)
        fh = open_binary(path)
    except OSError as exc:
        problems.append(InputProblem(name, exc.strerror or str(exc)))
        return None
    with fh:
        plain = isinstance(fh, io.BufferedReader)
        st = os.fstat(fh.fileno()) if plain else None
        try:
            head = SalvagingReader(fh).read(65536)
        except (EOFError, OSError, ValueError) as exc:
            problems.append(InputProblem(name, f"{_corrupt_message(exc)} at the start; nothing could be read"))
            return None
    if looks_binary(head):
        problems.append(InputProblem(name, "binary data, not a text log"))
        return None
    fmt = sniff_format([x.decode("utf-8", "replace") for x in head.split(b"\n")[:30]]) if head.strip() else None
    if fmt is None:
        if head.strip():
            problems.append(InputProblem(name, "not a recognised mail log (Exim or Postfix)"))
        return None
    identity = (st.st_dev, st.st_ino, st.st_size) if st is not None else (0, 0, 0)
    return _Source(name, path, fmt, file_year(path) if name != "<stdin>" else None, plain, identity)


def _spool(fh: IO[bytes], cleanup: contextlib.ExitStack) -> Path:
    """Copy a stream that cannot be read twice into a temporary file."""
    import shutil
    import tempfile  # here: ~7 ms of start-up that most traces do not need

    tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="maildoctor-trace-"))
    out = Path(tmp) / "log"
    with out.open("wb") as dst:
        shutil.copyfileobj(fh, dst, 1 << 20)
    return out


def _first_pass(src: _Source, si: int, needle: str, chooser: _Chooser, problems: list[InputProblem]) -> None:
    scanner = NeedleScanner([needle.encode()], ignore_case=True)
    mode = src.id_mode
    if src.plain:
        for base, lines in scanner.hit_lines(str(src.path), mode):
            chooser.feed(si, base, lines)
        return

    batch: list[LineHit] = []

    def on_hit(hit: Hit) -> Iterable[bytes]:
        batch.append((-1, hit.line_no - 1, hit.line, line_id(hit.line, mode)))
        if len(batch) >= BATCH_LINES:
            chooser.feed(si, 0, batch[:])
            batch.clear()
        return ()

    with open_binary(src.path) as stream:
        scanner.scan(stream, on_hit)
    chooser.feed(si, 0, batch)
    _note_error(scanner, src, problems)


def _second_pass(src: _Source, si: int, kind: str, needle: str, window: _Window, events: dict[str, list[LogEvent]],
                 cwd: dict[str, tuple[str, str, int]], chosen: dict[str, _Candidate] | None,
                 problems: list[InputProblem]) -> None:
    """Follow the messages through one log: an id query's message, or the chosen messages."""
    collector = _Collector(kind, needle, src, window, events, cwd, chosen)
    # messages still open at the end of an older file of the set are followed from the start
    open_ids = [m for m, evs in events.items() if not any(e.kind is EventKind.COMPLETED for e in evs)]
    triggers: list[tuple[int, int]] = []
    if chosen is not None:
        triggers = sorted({(start, n) for c in chosen.values() for s, start, n in c.hits if s == si})
        if not triggers and not open_ids:
            return  # nothing of the chosen messages starts or continues here
    if chosen is not None and src.plain and src.replaced():
        problems.append(InputProblem(src.name, "replaced or truncated while it was read (log rotation?); "
                                     "its messages are missing: run the trace again"))
        return
    # a plain file's lines of the chosen messages are known from the first pass: the triggers
    needles = [] if chosen is not None and src.plain else [needle.encode()]

    def new_scanner() -> NeedleScanner:
        sc = NeedleScanner(needles, ignore_case=kind in ("address", "message_id"))
        for m in open_ids:
            sc.add(m.encode())
        collector.scanner = sc
        return sc

    scanner = new_scanner()
    if not src.plain:
        with open_binary(src.path) as stream:
            scanner.scan(stream, collector)
    elif chosen is not None:
        scanner.scan_triggers(str(src.path), triggers, collector)
    elif kind == "exim_id" and src.exim:
        # An Exim id carries its arrival time: start near it instead of reading the whole log.
        seek: list[int | None] = []

        def start_at(m: Any, size: int) -> int | None:
            seek.append(seek_offset(m, size, needle))
            return seek[-1]

        scanner.scan_path(str(src.path), collector, start_at)
        found = needle in events or any(e.parent_id == needle for evs in events.values() for e in evs)
        offset = seek[0] if seek else None
        if not (offset is None or found or offset == 0 or offset >= src.path.stat().st_size):
            # not after the arrival time (clock jumps?): read it all
            new_scanner().scan_path(str(src.path), collector)
    else:
        scanner.scan_path(str(src.path), collector)  # plain file: searched in place
    _note_error(scanner, src, problems)


def _note_error(scanner: NeedleScanner, src: _Source, problems: list[InputProblem]) -> None:
    if scanner.error:
        where = f"after line {scanner.lines}; lines before it were read"
        problems.append(InputProblem(src.name, f"{scanner.error} {where}"))


def _link(stories: dict[str, MessageStory]) -> None:
    """Connect parents and children (bounces, delay warnings, Postfix notifications and forwards)."""
    for s in stories.values():
        for e in s.evidence:
            bounce = stories.get(e.extra.get("bounce_id", ""))
            if bounce is not None and bounce.parent_id is None:  # Postfix: "sender non-delivery notification: ID"
                bounce.parent_id, bounce.is_bounce = s.id, True
                bounce.source = {**bounce.source, "kind": "bounce"}
    for s in stories.values():
        for rel in list(s.related):
            other = stories.get(rel)
            if other is not None and s.id not in other.related:
                other.related.append(s.id)
        if s.parent_id and s.parent_id in stories and s.parent_id not in s.related:
            s.related.append(s.parent_id)
            parent = stories[s.parent_id]
            if s.id not in parent.related:
                parent.related.append(s.id)
