"""The byte-level fast path, the LogEvent path and split-and-merge all give the same aggregate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.eximgen import generate
from maildoctor.logs.read import iter_events
from maildoctor.outbreak import fastscan
from maildoctor.outbreak.aggregate import (
    DEFERRED,
    DELIVERED,
    DOMAINS,
    EVIDENCE,
    FAIL_EVIDENCE,
    FAILED,
    HIST,
    IPS,
    MSGS,
    RCPTS,
    Aggregate,
    ip_hist,
)
from maildoctor.outbreak.events import aggregate_events
from maildoctor.outbreak.fastscan import scan_files, scan_range, split_points
from maildoctor.outbreak.report import _absolute_line

DATA = Path(__file__).parent / "data"


def snapshot(agg: Aggregate, failure_evidence: bool = True) -> dict[str, Any]:
    def ev(refs: list[tuple[str, int, int, str]]) -> list[tuple[int, str]]:
        return [(_absolute_line(agg, p, s, n), t) for p, s, n, t in refs]

    sigs = {}
    for sig, st in agg.sigs.items():
        sigs[sig] = (
            tuple(st[:HIST]),
            dict(st[HIST]),
            frozenset(st[DOMAINS]),
            ev(st[EVIDENCE]),
            ev(st[FAIL_EVIDENCE]) if failure_evidence else None,
            dict(st[IPS]),
        )
    return {
        "sigs": sigs,
        "backscatter": dict(agg.backscatter),
        "arrivals": {k: tuple(v) for k, v in agg.arrivals.items()},
        "completions": dict(agg.completions),
        "inflight": set(agg.inflight),
        "client_ips": {ip: (r[0], r[1], r[2], ip_hist(r, agg.bucket_chars)) for ip, r in agg.client_ips.items()},
        "lines": agg.lines,
        "first": agg.first,
        "last": agg.last,
    }


def _sig(agg: Aggregate, **want: str) -> list[object]:
    names = ("script", "user", "auth", "ip", "sender")
    for sig, st in agg.sigs.items():
        vals = dict(zip(names, sig, strict=True))
        if all((vals[k] or b"").decode() == v for k, v in want.items()):
            return st
    raise AssertionError(f"no signature {want}")


def test_hand_written_log_counts(scanner: str) -> None:
    agg = scan_files([str(DATA / "mixed_ids.log")], workers=1)
    spam = _sig(agg, script="/home/shop/public_html/wp-content/uploads")
    assert spam[MSGS] == 2 and spam[RCPTS] == 4
    assert (spam[DELIVERED], spam[FAILED], spam[DEFERRED]) == (2, 1, 2)
    contact = _sig(agg, script="/home/shop/public_html/contact")
    assert contact[MSGS] == 1 and contact[DELIVERED] == 1
    anna = _sig(agg, auth="anna@store.example")
    assert (anna[MSGS], anna[DELIVERED], anna[FAILED]) == (1, 1, 1)
    # client IPs of authenticated mail live in the side table and in the signature's IP counts
    assert anna[IPS] == {b"203.0.113.25": 1} and agg.client_ips[b"203.0.113.25"][0] == 1
    # no 'for' list on this arrival: the recipient domains come from the outcome lines
    info = _sig(agg, auth="info@client.example")
    assert info[MSGS] == 1 and info[RCPTS] == 0 and {b"victim5.example", b"victim6.example"} <= info[9]
    # inbound mail from the internet is not a sending source; the remote bounce is backscatter
    assert not any(s[3] == b"198.51.100.30" for s in agg.sigs)
    assert agg.backscatter == {b"shop@server1.example": 1}
    # the locally generated bounce (R=...) to anna is not backscatter
    assert b"anna@store.example" not in agg.backscatter
    assert set(agg.inflight) == {b"1tA2eI-0006BB-Zz"}  # still queued (deferred twice)
    assert b"1tZZzz-0009ZZ-Zz" in agg.orphans  # arrived before the log starts


@pytest.fixture(params=["pure", "accel"])
def scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the pure-Python scanner and with the optional C accelerator."""
    if request.param == "accel" and fastscan._accel is None:
        pytest.skip("C accelerator not built (no compiler at install)")
    monkeypatch.setattr(fastscan, "USE_ACCEL", request.param == "accel")
    return str(request.param)


@pytest.mark.parametrize("path", [DATA / "mixed_ids.log", None])
def test_fast_path_equals_event_path(path: Path | None, tmp_path: Path, scanner: str) -> None:
    if path is None:
        path = tmp_path / "gen.log"
        generate(path, messages=3000, seed=11, id_format="mixed", scenario="outbreak")
    fast = scan_files([str(path)], workers=1)
    events = aggregate_events(iter_events([path]))
    assert snapshot(fast) == snapshot(events)


@pytest.mark.parametrize("id_format", ["old", "new"])
def test_split_and_merge_equals_one_pass(
    id_format: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scanner: str
) -> None:
    path = tmp_path / "gen.log"
    generate(path, messages=4000, seed=5, id_format=id_format, scenario="outbreak")
    whole = scan_range(str(path), 0, None, 13)
    monkeypatch.setattr(fastscan, "SPLIT_MIN", 0)
    ranges = split_points(str(path), 7)
    assert len(ranges) == 7
    merged = Aggregate()
    for start, end in ranges:
        merged.merge(scan_range(str(path), start, end, 13))
    # failure evidence may legitimately differ (a failure whose arrival is in an earlier part)
    assert snapshot(merged, failure_evidence=False) == snapshot(whole, failure_evidence=False)
    # and through worker processes
    parallel = scan_files([str(path)], workers=2)
    assert snapshot(parallel, failure_evidence=False) == snapshot(whole, failure_evidence=False)


def test_compressed_logs_in_order(tmp_path: Path, scanner: str) -> None:
    import gzip

    plain = (DATA / "mixed_ids.log").read_bytes()
    lines = plain.splitlines(keepends=True)
    old, new = tmp_path / "mainlog.1.gz", tmp_path / "mainlog"
    with gzip.open(old, "wb") as fh:
        fh.write(b"".join(lines[:20]))
    new.write_bytes(b"".join(lines[20:]))
    both = scan_files([str(old), str(new)], workers=2)
    one = scan_files([str(DATA / "mixed_ids.log")], workers=1)
    a, b = snapshot(both, failure_evidence=False), snapshot(one, failure_evidence=False)
    assert a["sigs"].keys() == b["sigs"].keys()
    assert {k: v[0] for k, v in a["sigs"].items()} == {k: v[0] for k, v in b["sigs"].items()}
    assert a["inflight"] == b["inflight"]


def test_hostile_input_without_newlines_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scanner: str
) -> None:
    monkeypatch.setattr(fastscan, "MAX_LINE", 1 << 16)
    monkeypatch.setattr(fastscan, "BLOCK", 1 << 14)
    log = tmp_path / "x"
    log.write_bytes(b"A" * (1 << 20) + b"\n" + (DATA / "mixed_ids.log").read_bytes())
    agg = scan_files([str(log)], workers=1)
    assert len(agg.sigs) == len(scan_files([str(DATA / "mixed_ids.log")], workers=1).sigs)
