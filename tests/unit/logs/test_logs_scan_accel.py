"""The optional C accelerator of the scanner gives exactly what the pure-Python path gives."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maildoctor.logs import scan
from maildoctor.logs.scan import NeedleScanner, _find_in_part
from maildoctor.logs.trace import trace
from maildoctor.render.jsonout import to_jsonable

accel = pytest.importorskip("maildoctor.logs._find", reason="the C accelerator was not built (no compiler)")

# pieces that make near misses: case variants, the folded look-alike of '@' ('`'), split needles
PIECES = ["ab@c.d", "AB@C.D", "ab`c.d", "aB@c", ".d", "a", "@", "\n", "\n\n", "x" * 40, "1xAbC-00000AbCdE-Fg", "\r\n",
          "1xAbC-3mGvDa-Su", "1xAbD-3mGvDa-S", "1xAb", "-"]
IDS = [b"1xAbC-00000AbCdE-Fg", b"1xAbC-3mGvDa-Su", b"1xAbD-3mGvDa-Su"]  # same bytes at 0-3 and 5


# the search loops: AVX-512 (where the CPU has it), AVX2, SSE2
LOOPS = [{}, {"MAILDOCTOR_NO_AVX512": "1"}, {"MAILDOCTOR_NO_AVX2": "1"}]


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _line(data: bytes, start: int) -> bytes:
    """The line at start as the scanner gives it: no newline, no trailing CR, cut at MAX_LINE."""
    end = data.find(b"\n", start, start + scan.MAX_LINE)
    return data[start: min(len(data), start + scan.MAX_LINE) if end < 0 else end].rstrip(b"\r")


def _pure(path: Path, needle: bytes, icase: bool, a: int, b: int) -> tuple[list[tuple[int, int]], int]:
    old = scan._NUMPY[:]
    scan._NUMPY[:] = [None]  # the translate path: exact ASCII case folding, like the C code
    try:
        return _find_in_part(str(path), needle, icase, a, b)
    finally:
        scan._NUMPY[:] = old


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.sampled_from(PIECES), min_size=1, max_size=120),
    needle=st.sampled_from([b"ab@c.d", b"a", b"ab@c", b".d", b"1xAbC-00000AbCdE-Fg", b"xxxx"]),
    icase=st.booleans(),
    cut=st.floats(0, 1),
)
def test_find_lines_matches_pure_python(tmp_path: Path, parts: list[str], needle: bytes, icase: bool,
                                        cut: float) -> None:
    data = "".join(parts).encode()
    path = tmp_path / "log"
    path.write_bytes(data)
    # a part starts at a line start, like the scanner's parts
    nl = data.find(b"\n", int(len(data) * cut))
    a = 0 if nl < 0 else nl + 1
    fd = os.open(path, os.O_RDONLY)
    try:
        for lo, hi in ((0, len(data)), (a, len(data)), (0, a)):
            want = _pure(path, needle, icase, lo, hi)
            texts = [(s, n, _line(data, s)) for s, n in want[0]]
            for loop in LOOPS:
                with _env(loop):
                    assert accel.find_lines(fd, needle, icase, lo, hi) == want
                    for mode in (scan.NO_IDS, scan.EXIM_IDS, scan.POSTFIX_IDS):
                        got = accel.find_lines(fd, needle, icase, lo, hi, 0, -1, True, mode)
                        assert got == ([(s, n, t, scan.line_id(t, mode)) for s, n, t in texts], want[1])
            # the two bytes compared first may be any two positions of the needle
            assert accel.find_lines(fd, needle, icase, lo, hi, len(needle) // 3, len(needle) // 2) == want
            if not icase:  # the multi-needle search of follow-up ids: the same lines
                assert accel.find_line_starts(fd, [needle], lo, hi) == [start for start, _ in want[0]]
        # several needles at once: every line holding any of them, once, in order
        lines_at = [0] + [i + 1 for i, c in enumerate(data) if c == 10]
        starts = [s for s in lines_at if s < len(data)]
        ends = [(data.find(b"\n", s) + 1 or len(data) + 1) - 1 for s in starts]
        for needles in ([b"ab@c", b".d"], IDS, [b"ab@c", b"ab`c", b"a"]):
            multi = [s for s, e in zip(starts, ends, strict=True) if any(n in data[s:e] for n in needles)]
            for loop in LOOPS:
                with _env(loop):
                    assert accel.find_line_starts(fd, needles, 0, len(data)) == multi
                    assert accel.find_line_starts(fd, needles, a, len(data)) == [s for s in multi if s >= a]
        assert accel.count_newlines(fd, a, len(data)) == data.count(b"\n", a)
    finally:
        os.close(fd)


_DIGITS = st.text("0123456789", min_size=0, max_size=8)
_ALNUM = st.text("0123456789aZ", min_size=0, max_size=25)
_IDS = ["", " 1xAbC0-00000AbCdE1-Fg12", " 1xAbC-3mGvDa-Su", " 1xAbC-3mGvDa-S", " 1x_bC-3mGvDa-Su"]  # and near misses


@settings(max_examples=300, deadline=None)
@given(
    date=st.sampled_from(["2026-11-01 00:00:37", "2026-11-01 00:00:3", "2026-1x-01 00:00:37", "2026-11-01T00:00:37"]),
    frac=st.one_of(st.just(""), _DIGITS.map(lambda d: "." + d)),
    zone=st.sampled_from(["", " +0100", " -0530", " +01", " 0100"]),
    pid=st.one_of(st.just(""), st.tuples(_DIGITS, st.sampled_from(["", ":", ":7", ":x"]), st.sampled_from(["]", ""]))
                  .map(lambda t: f" [{t[0]}{t[1]}{t[2]}")),
    mid=st.one_of(st.sampled_from(_IDS),
                  st.tuples(_ALNUM, _ALNUM, _ALNUM).map(lambda t: f" {t[0]}-{t[1]}-{t[2]}")),
    after=st.sampled_from(["", " ", " <= a@b", "x", ":", "-"]),
    postfix=st.tuples(st.sampled_from(["mx postfix/smtp[12]", "]", "x]", ""]), st.sampled_from([": ", ":", ""]),
                      st.one_of(_ALNUM, st.just("NOQUEUE")), st.sampled_from([": ", ":", " ", ""]),
                      st.integers(0, 150)),
)
def test_line_ids_match_the_pure_python_definitions(tmp_path_factory: pytest.TempPathFactory, date: str, frac: str,
                                                    zone: str, pid: str, mid: str, after: str,
                                                    postfix: tuple[str, str, str, str, int]) -> None:
    head, sep, qid, tail, pad = postfix
    lines = [f"{date}{frac}{zone}{pid}{mid}{after} zz", f"{'p' * pad}{head}{sep}{qid}{tail}status zz"]
    data = "\n".join(lines).encode() + b"\n"
    path = tmp_path_factory.mktemp("ids") / "log"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        for mode in (scan.EXIM_IDS, scan.POSTFIX_IDS):
            got = [i for _, _, _, i in accel.find_lines(fd, b"zz", False, 0, len(data), 0, -1, True, mode)[0]]
            assert got == [scan.line_id(line.encode(), mode) for line in lines]
    finally:
        os.close(fd)


def test_line_ids_of_real_lines() -> None:
    exim = b"2026-11-01 00:00:37.123 +0100 [4242] 1xNJ01-000b54-LX <= a@b.example"
    assert scan.line_id(exim, scan.EXIM_IDS) == b"1xNJ01-000b54-LX"
    new = b"1xNJ01-0000000AbCd-Fg12"  # Exim 4.97+
    assert scan.line_id(b"2026-11-01 00:00:37 " + new + b" Completed", scan.EXIM_IDS) == new
    assert scan.line_id(b"2026-11-01 00:00:37 H=(x) [192.0.2.1] F=<a@b> rejected RCPT", scan.EXIM_IDS) is None
    pf = b"Nov 27 10:00:00 mx1 postfix/qmgr[13]: 4B2C3D1E2F: from=<bob@client.tld>, size=2666"
    assert scan.line_id(pf, scan.POSTFIX_IDS) == b"4B2C3D1E2F"
    assert scan.line_id(b"Nov 27 10:00:00 mx1 postfix/smtpd[11]: NOQUEUE: reject: RCPT", scan.POSTFIX_IDS) is None


def test_long_lines_across_read_chunks(tmp_path: Path) -> None:
    # the C code reads 256 KiB at a time: needles across chunk edges and lines longer than a chunk
    rng = random.Random(3)
    lines = []
    for i in range(400):
        body = "".join(rng.choice("abcdefghij@. ") for _ in range(rng.choice([10, 200, 5000, 300_000])))
        if i % 7 == 0:
            k = rng.randrange(len(body) + 1)
            body = body[:k] + rng.choice(["Ab@C.d", "ab@c.d"]) + body[k:]
        lines.append(body)
    data = "\n".join(lines).encode()  # no newline at the end
    path = tmp_path / "big"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        for icase in (False, True):
            got = accel.find_lines(fd, b"ab@c.d", icase, 0, len(data))
            assert got == _pure(path, b"ab@c.d", icase, 0, len(data))
            assert len(got[0]) >= 40 if icase else len(got[0]) > 0
            # each line's text, also when it is not whole in one read (cut at MAX_LINE)
            texts = accel.find_lines(fd, b"ab@c.d", icase, 0, len(data), 0, -1, True)[0]
            assert [(s, n, t) for s, n, t, _ in texts] == [(s, n, _line(data, s)) for s, n in got[0]]
            assert any(len(t) == scan.MAX_LINE for _, _, t, _ in texts)
        assert accel.count_newlines(fd, 0, len(data)) == data.count(b"\n")
        # several needles sharing bytes (the multi-needle filter), across chunk edges
        pure = _pure(path, b"ab@c.d", False, 0, len(data))[0]
        for loop in LOOPS:
            with _env(loop):
                assert accel.find_line_starts(fd, [b"ab@c.d", b"ab@c.q"], 0, len(data)) == [s for s, _ in pure]
    finally:
        os.close(fd)


@pytest.mark.parametrize("thread_min", [1 << 40, 4096])
def test_scanner_same_hits_with_and_without_accelerator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        thread_min: int) -> None:
    rng = random.Random(9)
    lines = [f"line {i} {rng.choice(['Needle', 'nEEDLE', 'noodle', 'x'])} {'y' * rng.randrange(300)}"
             for i in range(5000)]
    path = tmp_path / "log"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(scan, "THREAD_MIN", thread_min)  # 4096: the file is split between threads

    def run(pure: bool, icase: bool) -> tuple[list[tuple[int, bytes]], int]:
        if pure:
            monkeypatch.setenv("MAILDOCTOR_PURE_PYTHON", "1")
        else:
            monkeypatch.delenv("MAILDOCTOR_PURE_PYTHON", raising=False)
        got: list[tuple[int, bytes]] = []
        sc = NeedleScanner([b"needle"], ignore_case=icase, workers=2)
        sc.scan_path(str(path), lambda h: got.append((h.line_no, h.line)) or ())
        return got, sc.lines

    for icase in (False, True):
        fast, slow = run(False, icase), run(True, icase)
        assert fast == slow
        assert fast[1] == 5000


def test_trace_same_stories_with_and_without_accelerator(genlog, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    log, gt = genlog("mixed")
    monkeypatch.setattr(scan, "THREAD_MIN", 65536)
    sample = sorted(gt.messages.values(), key=lambda m: m.id)
    queries = [sample[len(sample) // 3].id, sample[-5].id, sample[7].sender, next(iter(sample[11].recipients)).upper()]
    for q in queries:
        monkeypatch.delenv("MAILDOCTOR_PURE_PYTHON", raising=False)
        fast = to_jsonable(trace(q, [log]).messages)
        monkeypatch.setenv("MAILDOCTOR_PURE_PYTHON", "1")
        slow = to_jsonable(trace(q, [log]).messages)
        assert fast == slow
        assert fast  # every query names a message of the log


def test_on_threads_keeps_order_and_reraises() -> None:
    calls = [lambda i=i: i * i for i in range(9)]
    assert scan._on_threads(calls, 2) == [i * i for i in range(9)]
    assert scan._on_threads(calls) == [i * i for i in range(9)]

    def boom() -> int:
        raise OSError("unreadable part")

    with pytest.raises(OSError, match="unreadable part"):
        scan._on_threads([calls[0], boom, calls[1]], 2)


def test_unreadable_descriptor_is_an_os_error() -> None:
    r, w = os.pipe()  # pread on a pipe fails (ESPIPE): the error reaches Python, no crash
    try:
        with pytest.raises(OSError):
            accel.find_lines(r, b"x", False, 0, 100)
        with pytest.raises(OSError):
            accel.count_newlines(r, 0, 100)
        with pytest.raises(OSError):
            accel.find_line_starts(r, [b"x"], 0, 100)
        with pytest.raises(ValueError):
            accel.find_lines(r, b"", False, 0, 100)
    finally:
        os.close(r)
        os.close(w)
