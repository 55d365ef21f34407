"""The streaming reader: compression, stdin, globs, rotated sets in time order, unreadable inputs."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from pathlib import Path

import pytest

from maildoctor.logs.events import EventKind
from maildoctor.logs.read import LogReader, default_log_paths, iter_events, order_rotated, rotated_set

LINES = [
    "2026-11-25 10:00:00 1tA2bC-0004Xy-Ab <= a@b.example H=h [192.0.2.1] P=esmtp S=10 for c@client.tld",
    "2026-11-25 10:00:01 1tA2bC-0004Xy-Ab => c <c@client.tld> R=virtual_user T=local",
    "2026-11-25 10:00:01 1tA2bC-0004Xy-Ab Completed",
]


def _write(path: Path, lines: list[str], opener=open) -> Path:  # type: ignore[no-untyped-def]
    with opener(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("opener,suffix", [(open, ""), (gzip.open, ".gz"), (bz2.open, ".bz2"), (lzma.open, ".xz")])
def test_compressed_inputs(tmp_path: Path, opener, suffix: str) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / f"mainlog{suffix}", LINES, opener)
    reader = LogReader([path])
    events = list(reader)
    assert [e.kind for e in events] == [EventKind.ARRIVAL, EventKind.DELIVERY, EventKind.COMPLETED]
    assert [e.line_no for e in events] == [1, 2, 3] and events[0].source == str(path)
    assert not reader.problems


def test_rotated_set_is_read_oldest_first(tmp_path: Path) -> None:
    logdir = tmp_path / "var" / "log"
    logdir.mkdir(parents=True)
    _write(logdir / "exim_mainlog", [LINES[2].replace("10:00:01", "12:00:00")])
    _write(logdir / "exim_mainlog-20261126.gz", [LINES[1].replace("10:00:01", "11:00:00")], gzip.open)
    _write(logdir / "exim_mainlog-20261125.gz", [LINES[0]], gzip.open)
    _write(logdir / "unrelated.log", ["x"])
    paths = default_log_paths(tmp_path)
    assert [p.name for p in paths] == ["exim_mainlog-20261125.gz", "exim_mainlog-20261126.gz", "exim_mainlog"]
    times = [e.time for e in iter_events(paths)]
    assert times == sorted(times)
    numbered = [Path("mainlog"), Path("mainlog.1"), Path("mainlog.2.gz")]
    assert [p.name for p in order_rotated(numbered)] == ["mainlog.2.gz", "mainlog.1", "mainlog"]
    assert rotated_set(logdir / "nothing") == []


def test_glob_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "a.log", LINES[:1])
    _write(tmp_path / "b.log", LINES[1:])
    assert len(list(iter_events([str(tmp_path / "*.log")]))) == 3
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(LINES).encode())))
    events = list(iter_events(["-"]))
    assert len(events) == 3 and events[0].source == "<stdin>"


def test_bad_inputs_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.log", LINES)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(5000) + b"\x00" * 100)
    truncated = tmp_path / "cut.gz"
    data = gzip.compress(("\n".join(LINES * 2000) + "\n").encode())
    truncated.write_bytes(data[: len(data) // 2])
    missing = tmp_path / "missing.log"
    problems: list = []
    events = list(iter_events([good, garbage, truncated, missing], problems=problems))
    text = "\n".join(str(p) for p in problems)
    assert "garbage.bin: binary data" in text
    assert "cut.gz: compressed file is truncated" in text
    assert "missing.log: No such file or directory" in text
    from_cut = [e for e in events if e.source == str(truncated)]
    assert len(from_cut) > 100  # the readable part of the truncated file
    assert len([e for e in events if e.source == str(good)]) == 3


def test_unreadable_inputs(tmp_path: Path) -> None:
    """A directory and a file whose reads fail (even for root) are reported by name, not raised."""
    reader = LogReader([tmp_path, "/proc/self/mem"])
    assert list(reader) == []
    text = "\n".join(reader.problems.lines())
    assert f"{tmp_path}: Is a directory" in text
    assert "/proc/self/mem: " in text


def test_since_until(tmp_path: Path) -> None:
    import datetime as dt

    p = _write(tmp_path / "m.log", LINES)
    got = list(iter_events([p], since=dt.datetime(2026, 11, 25, 10, 0, 1), until=dt.datetime(2026, 11, 25, 10, 0, 1)))
    assert [e.kind for e in got] == [EventKind.DELIVERY, EventKind.COMPLETED]


def test_postfix_file_is_sniffed(tmp_path: Path) -> None:
    p = _write(tmp_path / "maillog", ["Nov 27 10:00:00 mx postfix/qmgr[1]: 4B2C3D1E2F: removed"])
    (ev,) = list(iter_events([p]))
    assert ev.format == "postfix" and ev.kind is EventKind.COMPLETED
