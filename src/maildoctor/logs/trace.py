"""Trace messages through the mail log: by Exim id, Postfix queue id, Message-ID or address.

Only lines that contain the query (or an id found on the way) are parsed, thanks to the byte-level
scanner; everything else in the log is skipped at memory speed. An Exim id carries its arrival time,
so a query by id binary-searches the log for that time and follows the message from there.
The result is one `MessageStory` per message: how it arrived, what happened to each recipient, its
final state, related messages (the bounce or delay warning it caused, its parent) and the raw lines
as evidence.
"""

from __future__ import annotations

import datetime as dt
import io
import re
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
from maildoctor.logs.scan import CONTEXT, Hit, NeedleScanner
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


class _Prepend:
    """A read-only stream that first returns `head`, then the rest of `fh` (for sniffing stdin)."""

    def __init__(self, head: bytes, fh: SalvagingReader) -> None:
        self.head = head
        self.fh = fh

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            return out
        return self.fh.read(n)


DEFAULT_LIMIT = 500
_HEAD = rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\S* (?:[+-]\d{4} )?(?:\[\d+\] )?(" + exim_fmt.ID_PATTERN.encode() + rb") "
_QUICK_ID = re.compile(rb"^" + _HEAD + rb"|\]: ([0-9A-Za-z]{6,20}): ")

_ANY_ID = re.compile(exim_fmt.ID_PATTERN.encode())
# _QUICK_ID's first alternative alone: tried with match() it answers most lines without search()
# trying the second alternative at every position
_EXIM_HEAD = re.compile(_HEAD)


@dataclass
class _State:
    """Shared by the files of one trace: how many matching messages were taken, and the others."""

    limit: int
    found: int = 0
    over: set[str] = field(default_factory=set)


class _Collector:
    """The on_hit callback: parse a matching line, keep relevant events, return new needles."""

    def __init__(self, kind: str, needle: str, fmt: LogFormat, source: str, year: int | None,
                 since: dt.datetime | None, until: dt.datetime | None, events: dict[str, list[LogEvent]],
                 cwd: dict[str, tuple[str, str, int]], state: _State) -> None:
        self.kind = kind
        self.needle = needle
        self.needle_l = needle.lower()
        self.fmt = fmt
        self.source = source
        self.year = year
        self.since = since
        self.until = until
        self.events = events
        self.cwd = cwd
        self.wanted: set[str] = set()
        self.scanner: NeedleScanner | None = None
        self.state = state
        self.exim = fmt.name == "exim"

    def __call__(self, hit: Hit) -> Iterable[bytes]:
        # The Exim parser takes a message id only from the line's text, and a line without one is
        # dropped below: such lines are not parsed (a busy address has thousands of id-less
        # rejections and authentication failures). An Exim id at the start of the line proves one.
        if self.state.found >= self.state.limit:
            # Past the limit only lines of messages already followed are parsed; the others are
            # counted by their id (no parse), so a busy address costs little beyond the limit.
            q = _EXIM_HEAD.match(hit.line, 0, 160) or _QUICK_ID.search(hit.line, 0, 160)
            if (q is None or q.group(1) is None) and self.exim and _ANY_ID.search(hit.line) is None:
                return ()
            qid = (q.group(1) or q.group(2)).decode() if q else None
            if qid is not None and qid not in self.wanted and b"<= <> R=" not in hit.line:
                self.state.over.add(qid)
                return ()
        elif self.exim and _ANY_ID.search(hit.line) is None:
            return ()
        ev = self.fmt.parse_line(hit.text(), self.year, self.source, hit.line_no)
        if not self._in_window(ev):
            return ()
        mid = ev.message_id
        new: list[bytes] = []
        if mid is None:
            return ()
        child = ev.kind is EventKind.ARRIVAL and ev.parent_id is not None and ev.parent_id in self.wanted
        if mid not in self.wanted and not child and not self._relevant(ev):
            return ()
        if mid not in self.wanted and not child and self.state.found >= self.state.limit:
            self.state.over.add(mid)  # counted, not followed: memory stays bounded
            return ()
        if mid not in self.wanted and not child:
            self.state.found += 1
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

    def _in_window(self, ev: LogEvent) -> bool:
        if ev.time is None:
            return True
        t = ev.time.replace(tzinfo=None)
        return not ((self.since and t < self.since) or (self.until and t > self.until))

    def _look_back(self, mid: str, hit: Hit) -> None:
        """Lines of a newly found message just before the line that revealed it (Postfix's smtpd
        `client=` line before `message-id=`; an Exim arrival without the recipient list)."""
        key = mid.encode()
        lines = hit.before.split(b"\n")[:-1]
        if len(hit.before) >= CONTEXT:
            lines = lines[1:]  # the context was cut: its first piece may be a partial line
        for back, raw in enumerate(reversed(lines), 1):
            if key in raw:
                ev = self.fmt.parse_line(raw.decode("utf-8", errors="replace"), self.year, self.source,
                                         hit.line_no - back)
                if ev.message_id == mid and self._in_window(ev):
                    self.events.setdefault(mid, []).insert(0, ev)

    def _relevant(self, ev: LogEvent) -> bool:
        if self.kind in ("exim_id", "postfix_id"):
            return ev.message_id == self.needle or ev.parent_id == self.needle
        if self.kind == "message_id":
            return (ev.header_message_id or "").lower() == self.needle_l
        addrs = [ev.sender, ev.recipient, ev.original_recipient, ev.auth_id]
        addrs.extend(ev.extra.get("recipients", "").split())
        if ev.header_message_id and ev.header_message_id.lower() == self.needle_l:
            return True
        return any(a is not None and a.lower() == self.needle_l for a in addrs)

    def _find_cwd(self, ev: LogEvent, before: bytes) -> None:
        """cPanel logs the script's directory on a `cwd=` line written just before the `<=` line."""
        lines = before.split(b"\n")[-12:]
        for raw in reversed(lines):
            i = raw.find(b"cwd=")
            if i < 0:
                continue
            if ev.pid is not None and b"[" in raw[:i] and f"[{ev.pid}]".encode() not in raw[:i]:
                continue
            cwd_ev = self.fmt.parse_line(raw.decode("utf-8", errors="replace"))
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
    """Find the messages matching `query` in the logs (the first `limit` of them, plus the bounces
    and warnings they caused) and tell each one's story; `result.more` counts the rest."""
    kind, needle = classify_query(query)
    result = TraceResult(query=query, query_kind=kind, limit=limit)
    state = _State(limit)
    files = expand_paths(paths, result.problems)
    events: dict[str, list[LogEvent]] = {}
    cwd: dict[str, tuple[str, str, int]] = {}
    order: list[str] = []
    since_n, until_n = _naive(since), _naive(until)
    for path in files:
        name = "<stdin>" if str(path) == "-" else str(path)
        result.files.append(name)
        try:
            fh = open_binary(path)
        except OSError as exc:
            result.problems.append(InputProblem(name, exc.strerror or str(exc)))
            continue
        try:
            _trace_file(fh, name, path, kind, needle, since_n, until_n, events, cwd, result.problems, state)
        finally:
            fh.close()
    for mid, _evs in events.items():
        if mid not in order:
            order.append(mid)
    stories = {mid: build_story(mid, evs, cwd.get(mid)) for mid, evs in events.items()}
    _link(stories)
    result.messages = [stories[m] for m in order]
    result.more = len(state.over - set(stories))
    return result


def _trace_file(fh: IO[bytes], name: str, path: Path, kind: str, needle: str, since: dt.datetime | None,
                until: dt.datetime | None, events: dict[str, list[LogEvent]], cwd: dict[str, tuple[str, str, int]],
                problems: list[InputProblem], state: _State) -> None:
    src = SalvagingReader(fh)
    try:
        head = src.read(65536)
    except (EOFError, OSError, ValueError) as exc:
        problems.append(InputProblem(name, f"{_corrupt_message(exc)} at the start; nothing could be read"))
        return
    if looks_binary(head):
        problems.append(InputProblem(name, "binary data, not a text log"))
        return
    fmt = sniff_format([x.decode("utf-8", "replace") for x in head.split(b"\n")[:30]]) if head.strip() else None
    if fmt is None:
        if head.strip():
            problems.append(InputProblem(name, "not a recognised mail log (Exim or Postfix)"))
        return
    collector = _Collector(kind, needle, fmt, name, file_year(path) if name != "<stdin>" else None,
                           since, until, events, cwd, state)
    # Ids already known from earlier files of a rotated set keep being followed.
    collector.wanted.update(events)
    open_ids = [m for m, evs in events.items() if not any(e.kind is EventKind.COMPLETED for e in evs)]

    def new_scanner() -> NeedleScanner:
        sc = NeedleScanner([needle.encode()], ignore_case=kind in ("address", "message_id"))
        for m in open_ids:  # messages still open at the end of an older file of the set
            sc.add(m.encode())
        collector.scanner = sc
        return sc

    scanner = new_scanner()
    if isinstance(fh, io.BufferedReader) and name != "<stdin>" and path.is_file():
        fh.close()
        if kind == "exim_id" and fmt.name == "exim":
            # An Exim id carries its arrival time: start near it instead of reading the whole log.
            seek: list[int | None] = []

            def start_at(m: Any, size: int) -> int | None:
                seek.append(seek_offset(m, size, needle))
                return seek[-1]

            scanner.scan_path(str(path), collector, start_at)
            found = needle in events or any(e.parent_id == needle for evs in events.values() for e in evs)
            offset = seek[0] if seek else None
            if offset is None or found or offset == 0 or offset >= path.stat().st_size:
                return  # done: read from the start anyway, found, or the message is newer than the file
            scanner = new_scanner()  # not after the arrival time (clock jumps?): read it all
        scanner.scan_path(str(path), collector)  # plain file: searched in place through mmap
    else:
        scanner.scan(_Prepend(head, src), collector)  # type: ignore[arg-type]
    if scanner.error:
        problems.append(InputProblem(name, f"{scanner.error} after line {scanner.lines}; lines before it were read"))


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
