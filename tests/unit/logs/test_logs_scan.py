"""The byte-level scanner: same lines and line numbers as a plain Python loop, whatever the windows."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from maildoctor.logs import scan
from maildoctor.logs.scan import Hit, NeedleScanner


def _make(tmp_path: Path, n: int = 3000) -> tuple[Path, list[str]]:
    rng = random.Random(5)
    lines = []
    for i in range(n):
        tag = rng.choice(["AAA", "bbb", "ccc", "Needle", "nEEDLE"])
        lines.append(f"line {i} {tag} {'x' * rng.randrange(0, 200)}")
    path = tmp_path / "log"
    path.write_text("\n".join(lines) + "\n")
    return path, lines


@pytest.mark.parametrize("use_numpy", [False, True], ids=["pure-python", "numpy"])
@pytest.mark.parametrize("window,parallel", [(1 << 20, False), (997, False), (997, True)])
def test_hits_and_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int, parallel: bool, use_numpy: bool
) -> None:
    # numpy is an optional accelerator (extra "fast"): both paths must give the same answers
    np = pytest.importorskip("numpy", reason="the numpy path needs the 'fast' extra") if use_numpy else None
    monkeypatch.setattr(scan, "_NUMPY", [np])
    monkeypatch.setattr(scan, "WINDOW", window)
    monkeypatch.setattr(scan, "PARALLEL_MIN", 0 if parallel else 1 << 40)
    path, lines = _make(tmp_path)
    want = [(i + 1, line) for i, line in enumerate(lines) if "Needle" in line]
    got: list[tuple[int, str]] = []
    NeedleScanner([b"Needle"], workers=3).scan_path(str(path), lambda h: got.append((h.line_no, h.text())) or ())
    assert got == want
    # case-insensitive: both spellings
    want_ci = [(i + 1, line) for i, line in enumerate(lines) if "needle" in line.lower()]
    got_ci: list[tuple[int, str]] = []
    NeedleScanner([b"NEEDLE"], ignore_case=True, workers=2).scan_path(
        str(path), lambda h: got_ci.append((h.line_no, h.text())) or ())
    assert got_ci == want_ci
    # the same through the stream path (compressed input)
    gz = tmp_path / "log.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    got_gz: list[tuple[int, str]] = []
    with gzip.open(gz) as fh:
        NeedleScanner([b"NEEDLE"], ignore_case=True).scan(fh, lambda h: got_gz.append((h.line_no, h.text())) or ())
    assert got_gz == want_ci


def test_follow_up_needles_and_retire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "WINDOW", 256)
    lines = ["start Q1 child=K7"] + [f"filler {i}" for i in range(50)] + ["K7 first", "noise", "K7 Completed"]
    lines += [f"filler {i}" for i in range(50)] + ["K7 after completion", "Q1 again"]
    path = tmp_path / "f.log"
    path.write_text("\n".join(lines))  # no final newline on purpose
    seen: list[tuple[int, str]] = []
    scanner = NeedleScanner([b"Q1"])

    def on_hit(h: Hit) -> list[bytes]:
        seen.append((h.line_no, h.text()))
        if "Completed" in h.text():
            scanner.retire(b"K7")
        return [b"K7"] if "child=K7" in h.text() else []

    scanner.scan_path(str(path), on_hit)
    assert seen == [(1, "start Q1 child=K7"), (52, "K7 first"), (54, "K7 Completed"), (106, "Q1 again")]
    assert scanner.lines == 106


def test_context_before_a_hit(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    path.write_text("cwd=/home/shop/public_html 3 args: sendmail -t\nID1 <= shop@x U=shop P=local\n")
    hits: list[tuple[int, bytes]] = []  # `before` is valid only inside the callback (cut lazily)
    NeedleScanner([b"ID1"]).scan_path(str(path), lambda h: hits.append((h.line_no, h.before)) or ())
    assert hits[0][1].endswith(b"sendmail -t\n") and hits[0][0] == 2


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_WORDS = st.sampled_from(["ab", "AB", "x", "Ab", "q", "zz", " "])


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.lists(_WORDS, max_size=8).map("".join), min_size=1, max_size=60),
       window=st.integers(min_value=8, max_value=300), ignore_case=st.booleans(), final_newline=st.booleans())
def test_scan_matches_a_naive_loop(lines: list[str], window: int, ignore_case: bool, final_newline: bool) -> None:
    import io
    import tempfile

    text = "\n".join(lines) + ("\n" if final_newline else "")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "log"
        path.write_text(text)
        old = scan.WINDOW
        scan.WINDOW = window
        try:
            got: list[tuple[int, str]] = []
            NeedleScanner([b"Ab"], ignore_case=ignore_case).scan_path(
                str(path), lambda h: got.append((h.line_no, h.text())) or ())
            streamed: list[tuple[int, str]] = []
            NeedleScanner([b"Ab"], ignore_case=ignore_case).scan(
                io.BytesIO(text.encode()), lambda h: streamed.append((h.line_no, h.text())) or ())
        finally:
            scan.WINDOW = old
    want = [(i + 1, x) for i, x in enumerate(text.split("\n")) if ("ab" in x.lower() if ignore_case else "Ab" in x)]
    assert got == want
    if all(len(x) < window for x in lines):  # the stream path cuts longer lines (and may split them)
        assert streamed == want


@pytest.mark.parametrize("accelerated", [False, True], ids=["pure-python", "accelerator"])
@pytest.mark.parametrize("part,final_newline", [(1 << 20, True), (4096, True), (4096, False)])
def test_hit_lines_in_parts_match_a_naive_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accelerated: bool,
                                               part: int, final_newline: bool) -> None:
    if accelerated and scan._accel is None:
        pytest.skip("the C accelerator was not built (no compiler)")
    rng = random.Random(8)
    ids = ["1xNJ01-000b54-LX", "1xNJ01-0000000AbCd-Fg12"]
    lines = [f"2026-11-01 00:00:{i % 60:02d} {rng.choice(ids)} {rng.choice(['<= Needle@x', '=> a@b', 'nEEDLE@x'])} "
             f"{'y' * rng.randrange(300)}" for i in range(4000)]
    path = tmp_path / "log"
    path.write_text("\n".join(lines) + ("\n" if final_newline else ""))
    monkeypatch.setattr(scan, "PART", part)  # many parts: rounds of parts (and worker processes, pure Python)
    monkeypatch.setattr(scan, "PARALLEL_MIN", 0)
    if accelerated:
        monkeypatch.delenv("MAILDOCTOR_PURE_PYTHON", raising=False)
    else:
        monkeypatch.setenv("MAILDOCTOR_PURE_PYTHON", "1")
    sc = NeedleScanner([b"needle@x"], ignore_case=True, workers=2)
    got = [(base + before + 1, text, mid) for base, hits in sc.hit_lines(str(path), scan.EXIM_IDS)
           for _, before, text, mid in hits]
    want = [(i + 1, line.encode(), scan.line_id(line.encode(), scan.EXIM_IDS))
            for i, line in enumerate(lines) if "needle@x" in line.lower()]
    assert got == want
    assert sc.lines == len(lines)
    assert all(mid is not None for _, _, mid in got)
