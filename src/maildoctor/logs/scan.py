"""Byte-level prefilter: find the lines that contain any of a set of needles, without parsing the rest.

Python cannot parse a gigabyte of log lines quickly, but `bytes.find` runs at memory speed. The
scanner reads large chunks (decompressing on the fly), finds needle occurrences, and hands back only
the matching lines with their line numbers and a little context before them (for the `cwd=` line
that precedes a local submission). The caller may add needles while scanning (an id found in a
bounce's `R=` field): they are searched in the rest of the current chunk and in every later chunk.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

from maildoctor.logs.read import _corrupt_message

CHUNK = 16 * 1024 * 1024
CONTEXT = 4096


@dataclass(frozen=True, slots=True)
class Hit:
    line_no: int
    line: bytes
    before: bytes  # up to CONTEXT bytes of the lines just before this one

    def text(self) -> str:
        return self.line.decode("utf-8", errors="replace")


OnHit = Callable[[Hit], Iterable[bytes]]


class NeedleScanner:
    """Scan one binary stream for lines containing any needle; `on_hit` may return new needles."""

    def __init__(self, needles: Iterable[bytes], case_variants: bool = False) -> None:
        self.needles: list[bytes] = []
        self.case_variants = case_variants
        for n in needles:
            self.add(n)
        self.error: str | None = None
        self.lines = 0

    def add(self, needle: bytes) -> bool:
        new = False
        variants = {needle}
        if self.case_variants:
            variants |= {needle.lower(), needle.upper()}
            local, at, domain = needle.partition(b"@")
            if at:
                variants.add(local + at + domain.lower())
        for v in variants:
            if v and v not in self.needles:
                self.needles.append(v)
                new = True
        return new

    def scan(self, fh: IO[bytes], on_hit: OnHit) -> None:
        line_no = 0  # lines before the current chunk
        tail = b""  # the last CONTEXT bytes of the previous chunk, for `before`
        rest = b""
        while True:
            try:
                data = fh.read(CHUNK)
            except (EOFError, OSError, ValueError) as exc:
                self.error = _corrupt_message(exc)
                data = b""
                if rest:
                    rest += b"\n"
            if not data:
                if rest and not self.error:
                    rest += b"\n"
                if rest:
                    line_no += self._scan_chunk(rest, line_no, tail, on_hit)
                self.lines = line_no
                return
            buf = rest + data if rest else data
            cut = buf.rfind(b"\n")
            if cut < 0:
                rest = buf
                continue
            chunk = buf[: cut + 1]
            rest = buf[cut + 1:]
            line_no += self._scan_chunk(chunk, line_no, tail, on_hit)
            tail = chunk[-CONTEXT:]
            if self.error:
                self.lines = line_no
                return

    def _scan_chunk(self, chunk: bytes, base_line: int, tail: bytes, on_hit: OnHit) -> int:
        heap: list[int] = []
        seen_starts: set[int] = set()
        for n in self.needles:
            self._push_all(chunk, n, 0, heap)
        counted_to = 0
        lines = base_line
        while heap:
            pos = heapq.heappop(heap)
            start = chunk.rfind(b"\n", 0, pos) + 1
            if start in seen_starts:
                continue
            seen_starts.add(start)
            end = chunk.find(b"\n", pos)
            lines += chunk.count(b"\n", counted_to, start)
            counted_to = start
            ctx_start = max(0, start - CONTEXT)
            before = chunk[ctx_start:start]
            if ctx_start == 0 and len(before) < CONTEXT:
                before = tail[-(CONTEXT - len(before)):] + before if tail else before
            line = chunk[start:end].rstrip(b"\r")
            for new in on_hit(Hit(lines + 1, line, before)):
                before_count = len(self.needles)
                if self.add(new):
                    for n in self.needles[before_count:]:
                        self._push_all(chunk, n, end, heap)
        return chunk.count(b"\n", counted_to) + (lines - base_line)

    @staticmethod
    def _push_all(chunk: bytes, needle: bytes, start: int, heap: list[int]) -> None:
        find = chunk.find
        pos = find(needle, start)
        while pos >= 0:
            heapq.heappush(heap, pos)
            nxt = chunk.find(b"\n", pos)
            if nxt < 0:
                break
            pos = find(needle, nxt)
