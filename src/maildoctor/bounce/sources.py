"""Where bounces come from: a message file, an mbox, a maildir (or a directory of files), stdin.

Messages are yielded one at a time; an mbox is split while streaming, and each message is
capped at `MAX_MESSAGE` bytes (the rest is skipped), so memory stays bounded.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_MESSAGE = 4 * 1024 * 1024
MAX_FILES_PER_DIR = 100_000


@dataclass(frozen=True, slots=True)
class SourceMessage:
    name: str  # file path, "path#N" for the Nth message of an mbox, "-#N" for stdin
    raw: bytes
    truncated: bool = False


class SourceError(Exception):
    """An input that cannot be read at all; the message names it."""


def _split_mbox(stream: BinaryIO, name: str) -> Iterator[SourceMessage]:
    buf: list[bytes] = []
    size = 0
    truncated = False
    n = 0
    prev_blank = True
    started = False
    for line in stream:
        if line.startswith(b"From ") and prev_blank:
            if started and buf:
                n += 1
                yield SourceMessage(f"{name}#{n}", b"".join(buf), truncated)
            buf, size, truncated, started = [], 0, False, True
            prev_blank = False
            continue
        started = True
        prev_blank = line in (b"\n", b"\r\n")
        if size >= MAX_MESSAGE:
            truncated = True
            continue
        if line.startswith(b">From "):
            line = line[1:]
        buf.append(line)
        size += len(line)
    if buf and any(x.strip() for x in buf):
        n += 1
        yield SourceMessage(f"{name}#{n}", b"".join(buf), truncated)


def _read_capped(stream: BinaryIO) -> tuple[bytes, bool]:
    data = stream.read(MAX_MESSAGE + 1)
    if len(data) > MAX_MESSAGE:
        return data[:MAX_MESSAGE], True
    return data, False


def _from_stream(stream: BinaryIO, name: str) -> Iterator[SourceMessage]:
    head = stream.peek(5)[:5] if hasattr(stream, "peek") else b""
    if head == b"From ":
        yield from _split_mbox(stream, name)
        return
    data, truncated = _read_capped(stream)
    if data.startswith(b"From ") and b"\nFrom " in data and not truncated:
        import io

        yield from _split_mbox(io.BytesIO(data), name)
        return
    yield SourceMessage(name, data, truncated)


def _dir_files(path: Path) -> list[Path]:
    maildir = (path / "cur").is_dir() or (path / "new").is_dir()
    dirs = [path / "cur", path / "new"] if maildir else [path]
    files: list[Path] = []
    for d in dirs:
        if d.is_dir():
            files.extend(sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")))
    return files[:MAX_FILES_PER_DIR]


def read_messages(inputs: Iterable[str], errors: list[str]) -> Iterator[SourceMessage]:
    """Every message of every input, in order; unreadable inputs are reported in `errors`."""
    for item in inputs:
        if item == "-":
            yield from _from_stream(sys.stdin.buffer, "-")
            continue
        path = Path(item)
        try:
            if path.is_dir():
                for f in _dir_files(path):
                    try:
                        with f.open("rb") as fh:
                            yield from _from_stream(fh, str(f))
                    except OSError as exc:
                        errors.append(f"{f}: {exc.strerror or exc}")
                continue
            with path.open("rb") as fh:
                yield from _from_stream(fh, str(path))
        except OSError as exc:
            errors.append(f"{path}: {exc.strerror or exc}")


_HEADER_LINE = re.compile(rb"^(?:From |[!-9;-~]+:)")


def looks_like_message(raw: bytes) -> bool:
    """True when the data starts like an email (a header field or an mbox From_ line).

    Binary garbage or a text file without headers is an input error, not a "not a bounce" verdict.
    """
    return bool(_HEADER_LINE.match(raw.lstrip(b"\r\n")[:1000]))
