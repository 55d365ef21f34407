"""Reading logs: compressed or plain files, stdin, globs and rotated sets, as a stream of events.

Unreadable inputs never stop the reading of the others: each one becomes an `InputProblem` on the
reader (`LogReader.problems`), so a command prints what it could read and then exits 2.
"""

from __future__ import annotations

import bz2
import datetime as dt
import glob
import gzip
import io
import lzma
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.formats import LogFormat, get_format, sniff_format

CHUNK = 8 * 1024 * 1024
SNIFF_LINES = 30
MAX_LINE = 64 * 1024  # longer lines are cut before parsing (Exim truncates its own far below this)
DEFAULT_LOGS = ("var/log/exim_mainlog", "var/log/exim4/mainlog", "var/log/maillog", "var/log/mail.log")
_ROTATED = re.compile(r"^(?P<base>.+?)(?:[.-](?P<suffix>\d{8}|\d{4}-\d\d-\d\d|\d{1,4}))?(?P<comp>\.(?:gz|bz2|xz))?$")


@dataclass(frozen=True, slots=True)
class InputProblem:
    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


class InputProblems(list[InputProblem]):
    """The per-input errors a reader collected (a list; `str()` of each is one stderr line)."""

    def lines(self) -> list[str]:
        return [str(p) for p in self]


def open_binary(path: Path | str) -> IO[bytes]:
    """Open a log for binary reading, decompressing gzip/bzip2/xz by magic bytes; '-' is stdin."""
    if str(path) == "-":
        return sys.stdin.buffer
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw, "rb")
    if magic[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw, "rb")
    return raw


def _rotation_key(path: Path) -> tuple[str, int, str]:
    """Sort key putting a rotated set oldest first: high .N first, dates ascending, live file last."""
    m = _ROTATED.match(path.name)
    base = m.group("base") if m else path.name
    suffix = (m.group("suffix") if m else None) or ""
    if not suffix:
        return (str(path.parent / base), 2, "")
    if len(suffix) <= 4:  # numbered: mainlog.1 is newer than mainlog.2
        return (str(path.parent / base), 0, f"{9999 - int(suffix):04d}")
    return (str(path.parent / base), 1, suffix.replace("-", ""))


def order_rotated(paths: Sequence[Path]) -> list[Path]:
    """Order files so that each rotated set is read oldest first; sets keep their given order."""
    first_seen: dict[str, int] = {}
    for i, p in enumerate(paths):
        first_seen.setdefault(_rotation_key(p)[0], i)
    return sorted(paths, key=lambda p: (first_seen[_rotation_key(p)[0]], _rotation_key(p)[1:]))


def rotated_set(path: Path) -> list[Path]:
    """The live file and its rotated siblings (name-DATE[.gz], name.N[.gz]), oldest first."""
    if not path.parent.is_dir():
        return [path] if path.exists() else []
    found = []
    for sib in path.parent.iterdir():
        if sib.name == path.name:
            found.append(sib)
            continue
        if not sib.name.startswith(path.name):
            continue
        m = _ROTATED.match(sib.name)
        if m and m.group("base") == path.name and (m.group("suffix") or m.group("comp")):
            found.append(sib)
    return order_rotated(found)


def default_log_paths(root: Path) -> list[Path]:
    """The mail logs present under a server root (each with its rotated set), oldest first."""
    out: list[Path] = []
    for rel in DEFAULT_LOGS:
        out.extend(p for p in rotated_set(root / rel) if p.is_file())
    return out


def expand_paths(paths: Sequence[Path | str], problems: list[InputProblem] | None = None) -> list[Path]:
    """Expand globs (and '-'), keep explicit names even when missing (the reader reports them)."""
    out: list[Path] = []
    for p in paths:
        s = str(p)
        if s != "-" and any(c in s for c in "*?[") and not os.path.exists(s):
            matches = sorted(glob.glob(s))
            if not matches and problems is not None:
                problems.append(InputProblem(s, "no file matches this pattern"))
            out.extend(Path(m) for m in matches)
        else:
            out.append(Path(s))
    return order_rotated(out)


def _decode(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") + sum(1 for c in text if ord(c) < 32 and c not in "\t\r\n")
    return bad > max(8, len(text) // 20)


def probe_log(path: Path) -> str | None:
    """Why this file cannot be read as a mail log (unreadable, binary, not Exim/Postfix), or None.

    Reads only the first 64 KiB (decompressed), so commands can refuse bad input up front.
    """
    try:
        with open_binary(path) as fh:
            head = fh.read(65536)
    except (OSError, EOFError, ValueError) as exc:
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"
    if not head.strip():
        return None  # an empty log is valid: nothing happened yet
    if looks_binary(head):
        return "binary data, not a text log"
    if sniff_format([_decode(x) for x in head.split(b"\n")[:SNIFF_LINES]]) is None:
        return "not a recognised mail log (Exim or Postfix)"
    return None


def file_year(path: Path) -> int | None:
    """The year of a file's last write: the best guess for classic syslog dates (which have none)."""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime).year
    except OSError:
        return None


class LogReader:
    """Stream LogEvents from several inputs; problems with any input land in `.problems`."""

    def __init__(
        self,
        paths: Sequence[Path | str],
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        format: str | None = None,
        tail_bytes: int | None = None,
        only: tuple[bytes, ...] | Callable[[bytes], bool] = (),
    ) -> None:
        """`tail_bytes`: read only about the last N bytes of each plain file (line numbers stay exact);
        `only`: parse only the lines that contain one of these byte strings, or for which this
        function (called on each raw line, in order, between the events) says yes."""
        self.problems = InputProblems()
        self.tail_bytes = tail_bytes
        self.only = only  # a cheap prefilter: most lines of a big log are never decoded or parsed
        self.paths = expand_paths(paths, self.problems)
        self.since = _naive(since)
        self.until = _naive(until)
        self.format = format
        self.lines_read = 0

    def __iter__(self) -> Iterator[LogEvent]:
        for path in self.paths:
            yield from self._read_one(path)

    def _read_one(self, path: Path) -> Iterator[LogEvent]:
        name = "<stdin>" if str(path) == "-" else str(path)
        try:
            fh = open_binary(path)
        except OSError as exc:
            self.problems.append(InputProblem(name, exc.strerror or str(exc)))
            return
        try:
            first_line = 0
            if self.tail_bytes and isinstance(fh, io.BufferedReader) and name != "<stdin>":
                first_line = _skip_to_tail(fh, self.tail_bytes)
            yield from self._read_stream(fh, name, path, first_line)
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()

    def _read_stream(self, fh: IO[bytes], name: str, path: Path, first_line: int = 0) -> Iterator[LogEvent]:
        line_no = first_line
        only = self.only
        keep = only if callable(only) else (lambda raw: any(o in raw for o in only)) if only else None
        fmt: LogFormat | None = get_format(self.format) if self.format else None
        year = file_year(path) if name != "<stdin>" else None
        panic = "panic" in path.name
        for chunk, problem in _chunks(fh):
            if problem is not None:
                self.problems.append(InputProblem(name, f"{problem} after line {line_no}; lines before it were read"))
                return
            if fmt is None:
                if looks_binary(chunk[:65536]):
                    self.problems.append(InputProblem(name, "binary data, not a text log"))
                    return
                sample = [_decode(x) for x in chunk[:65536].split(b"\n")[:SNIFF_LINES]]
                fmt = sniff_format(sample)
                if fmt is None:
                    self.problems.append(InputProblem(name, "not a recognised mail log (Exim or Postfix)"))
                    return
            parse = fmt.parse_line
            for raw in chunk.split(b"\n"):
                line_no += 1
                if not raw or raw == b"\r":
                    continue
                if keep is not None and not keep(raw):
                    continue
                ev = parse(_decode(raw[:MAX_LINE]), year, name, line_no)
                if ev.time is not None and (
                    (self.since is not None and _naive(ev.time) < self.since)  # type: ignore[operator]
                    or (self.until is not None and _naive(ev.time) > self.until)  # type: ignore[operator]
                ):
                    continue
                yield replace(ev, kind=EventKind.PANIC) if panic and ev.kind is EventKind.OTHER else ev
        self.lines_read += line_no


def _skip_to_tail(fh: io.BufferedReader, tail: int) -> int:
    """Position fh at the first whole line of its last `tail` bytes; return the lines skipped."""
    import mmap

    from maildoctor.logs.scan import _count_nl

    size = os.fstat(fh.fileno()).st_size
    if size <= tail:
        return 0
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        nl = m.find(b"\n", size - tail)
        if nl < 0:
            return 0
        skipped = _count_nl(m, 0, nl + 1)
    fh.seek(nl + 1)
    return skipped


class SalvagingReader:
    """Reads up to n bytes with read1 so that a corrupt or truncated compressed stream still
    returns everything decompressed before the damage; the error is raised on the next read."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.pending: BaseException | None = None

    def read(self, n: int) -> bytes:
        if self.pending is not None:
            exc, self.pending = self.pending, None
            raise exc
        read1 = getattr(self.fh, "read1", None)
        if read1 is None:
            return self.fh.read(n)
        parts: list[bytes] = []
        got = 0
        while got < n:
            try:
                block = read1(n - got)
            except (EOFError, OSError, lzma.LZMAError, ValueError) as exc:
                if not parts:
                    raise
                self.pending = exc
                break
            if not block:
                break
            parts.append(block)
            got += len(block)
        return b"".join(parts)


def _chunks(fh: IO[bytes]) -> Iterator[tuple[bytes, str | None]]:
    """Complete-line chunks of a binary stream; a decompression error ends it with a message."""
    rest = b""
    skipping = False  # inside a giant line whose first MAX_LINE bytes were already given
    src = SalvagingReader(fh)
    while True:
        try:
            data = src.read(CHUNK)
        except (EOFError, OSError, lzma.LZMAError, ValueError) as exc:
            if rest:
                yield rest, None
            yield b"", _corrupt_message(exc)
            return
        if not data:
            if rest:
                yield rest.removesuffix(b"\n"), None
            return
        if skipping:
            nl = data.find(b"\n")
            if nl < 0:
                continue
            data, skipping = data[nl + 1:], False
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0 and len(data) >= CHUNK:
            # no newline in a whole chunk (hostile input): keep the start of the line, skip the rest
            yield data[:MAX_LINE], None
            rest, skipping = b"", True
            continue
        if cut < 0:
            rest = data
            continue
        yield data[:cut], None
        rest = data[cut + 1:]


def _corrupt_message(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "compressed file is truncated"
    if isinstance(exc, gzip.BadGzipFile | lzma.LZMAError):
        return f"corrupt compressed data ({exc})"
    return f"read error ({exc})"


def _naive(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=None) if t is not None and t.tzinfo is not None else t


def iter_events(
    paths: Sequence[Path | str],
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    problems: list[InputProblem] | None = None,
) -> Iterator[LogEvent]:
    """Events of every input in time order of the rotated sets; problems go to `problems` if given."""
    reader = LogReader(paths, since, until)
    try:
        yield from reader
    finally:
        if problems is not None:
            problems.extend(reader.problems)

