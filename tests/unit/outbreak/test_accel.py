"""The optional C accelerator (_scan.c) gives exactly the aggregate of the pure-Python scanner.

Compared field by field (signatures with their counts, histograms, domains, client IPs and
evidence lines; messages in flight and which source each belongs to; orphans, deferrals,
backscatter, arrivals, completions, line counts, time span), on generated logs and on random
logs built from the odd line shapes a real main log has (time zones, pids with ports, both id
formats, bounces, IPv6 and private clients, subjects that contain field names, huge sizes,
recipients with upper case, lines cut short).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.eximgen import generate
from maildoctor.outbreak import aggregate, fastscan
from maildoctor.outbreak.aggregate import DOMAINS, EVIDENCE, FAIL_EVIDENCE, HIST, IPS, Aggregate, ip_hist
from maildoctor.outbreak.fastscan import scan_files, scan_range
from maildoctor.outbreak.report import _absolute_line

DATA = Path(__file__).parent / "data"

needs_accel = pytest.mark.skipif(fastscan._accel is None, reason="C accelerator not built (no compiler at install)")


def snapshot(agg: Aggregate) -> dict[str, Any]:
    def ev(refs: list[tuple[str, int, int, str]]) -> list[tuple[int, str]]:
        return [(_absolute_line(agg, p, s, n), t) for p, s, n, t in refs]

    sigs = {
        sig: (
            tuple(st[:HIST]),
            dict(st[HIST]),
            set(st[DOMAINS]),
            ev(st[EVIDENCE]),
            ev(st[FAIL_EVIDENCE]),
            dict(st[IPS]),
        )
        for sig, st in agg.sigs.items()
    }
    return {
        "sigs": sigs,
        "backscatter": dict(agg.backscatter),
        "arrivals": {k: tuple(v) for k, v in agg.arrivals.items()},
        "completions": dict(agg.completions),
        "client_ips": {ip: (r[0], r[1], r[2], ip_hist(r, agg.bucket_chars)) for ip, r in agg.client_ips.items()},
        "lines": agg.lines,
        "first": agg.first,
        "last": agg.last,
    }


def full_snapshot(agg: Aggregate) -> dict[str, Any]:
    names = {id(st): sig for sig, st in agg.sigs.items()}
    names[id(agg.inbound)] = "inbound"
    names[id(agg.bounce_in)] = "bounce_in"
    snap = snapshot(agg)
    snap["inflight"] = {mid: names.get(id(st), "?") for mid, st in agg.inflight.items()}
    snap["orphans"] = {k: (v[0], v[1], v[2], v[3], list(v[4])) for k, v in agg.orphans.items()}
    snap["deferred_ids"] = set(agg.deferred_ids)
    snap["sinks"] = (list(agg.inbound), list(agg.bounce_in))
    snap["cwd"] = (dict(agg._cwd_by_pid), agg._last_cwd)
    snap["chunk_lines"] = dict(agg.chunk_lines)
    return snap


def both(monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    monkeypatch.setattr(fastscan, "USE_ACCEL", False)
    pure = full_snapshot(scan_range(str(path), 0, None, 13))
    monkeypatch.setattr(fastscan, "USE_ACCEL", True)
    fast = full_snapshot(scan_range(str(path), 0, None, 13))
    return pure, fast


def test_pure_python_fallback_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastscan, "USE_ACCEL", False)
    agg = scan_files([str(DATA / "mixed_ids.log")], workers=1)
    assert agg.lines == 35 and agg.sigs


@needs_accel
def test_stats_layout_is_the_one_the_c_code_knows() -> None:
    # _scan.c indexes stats lists by these positions; it also rejects lists of another length
    a = aggregate
    assert (a.MSGS, a.RCPTS, a.BYTES, a.DELIVERED, a.DEFERRED) == (0, 1, 2, 3, 5)
    assert (a.FIRST, a.LAST, a.HIST, a.DOMAINS, a.EVIDENCE, a.IPS, len(a.new_stats())) == (6, 7, 8, 9, 10, 12, 13)


@needs_accel
def test_hand_written_log(monkeypatch: pytest.MonkeyPatch) -> None:
    pure, fast = both(monkeypatch, DATA / "mixed_ids.log")
    assert fast == pure


@needs_accel
@pytest.mark.parametrize(("id_format", "seed", "bucket_chars"), [("old", 3, 13), ("new", 4, 16), ("mixed", 5, 13)])
def test_generated_logs(
    id_format: str, seed: int, bucket_chars: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gen.log"
    generate(path, messages=5000, seed=seed, id_format=id_format, scenario="outbreak")
    monkeypatch.setattr(fastscan, "BLOCK", 1 << 16)  # many blocks: carries and line numbers across them
    monkeypatch.setattr(fastscan, "USE_ACCEL", False)
    pure = full_snapshot(scan_range(str(path), 0, None, bucket_chars))
    monkeypatch.setattr(fastscan, "USE_ACCEL", True)
    fast = full_snapshot(scan_range(str(path), 0, None, bucket_chars))
    assert fast == pure
    counts = [v[0] for v in fast["sigs"].values()]
    assert len(counts) > 10 and sum(c[4] for c in counts) and sum(c[5] for c in counts)  # failures, deferrals


# -- random logs from real line shapes --------------------------------------------------------

IDS = ["1tA2bC-0004Xy-Ab", "1tA2cD-00000001AbC-0Xy1", "1tA2eI-0006BB-Zz", "1tA2bC-0004Xy-A"]
CLIENT_IPS = [
    "203.0.113.25",
    "10.1.2.3",
    "172.16.0.9",
    "172.32.0.9",
    "172.3.1.1",
    "192.168.1.1",
    "127.0.0.1",
    "::1",
    "0:0:0:0:0:0:0:1",
    "FD00::1",
    "2001:db8::7",
    "::ffff:10.0.0.1",
    "",
]
TS = st.builds(
    lambda h, m, s, frac, tz: f"2026-11-20 0{h}:0{m}:{s:02d}{frac}{tz}",
    st.integers(0, 1),
    st.integers(0, 2),
    st.integers(0, 59),
    st.sampled_from(["", "", "", ".123", "."]),
    st.sampled_from(["", "", "", "", " +0100", " -0500", " +01"]),
)
PID = st.sampled_from(["", "", " [1001]", " [1001]", " [1002]", " [1001:3]", " [77:]", " []"])
SENDER = st.sampled_from(["<>", "<>", "", "shop@Server1.example", "anna@store.example", "x@y", "a@b.example"])
SUBJECT = st.sampled_from(['T="hi"', 'T="for you A=x S=9 H=y [1.2.3.4]"', 'T="q" "', ""])
RCPTS = st.sampled_from(["", " for a@B.example", " for a@b.example\tC@d.example  e", ' for "x y"@z', " for  "])


@st.composite
def arrival(draw: st.DrawFn) -> str:
    parts = [draw(SENDER)]
    if draw(st.booleans()):
        parts.append(f"H=(helo) [{draw(st.sampled_from(CLIENT_IPS))}]:{draw(st.integers(1, 9))}")
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(["A=dovecot_login:anna@store.example", "A=plain", "A=login:"])))
    elif draw(st.booleans()):
        parts.append(draw(st.sampled_from(["U=shop", "U=", "U=root"])))
    parts.append(draw(st.sampled_from(["P=local", "P=esmtpsa"])))
    parts.append(draw(st.sampled_from(["S=1520", "S=", "S=12a", "S=" + "9" * 25, "S=00042"])))
    if draw(st.booleans()):
        parts.append("id=abc@shop.example")
    parts.append(draw(SUBJECT))
    return " " + " ".join(p for p in parts if p) + draw(RCPTS)


OUTCOME = st.sampled_from(
    [
        " owner@gmail.example R=x T=y",
        " shop <shop@Server1.example> R=virtual_user",
        " local <x> R=a",
        " Who@Victim5.example: R=dkim",
        "",
        " a@b.example H=mx [1.2.3.4]: SMTP error",
    ]
)


@st.composite
def line(draw: st.DrawFn) -> str:
    kinds = ["<="] * 4 + ["=>"] * 2 + ["**", "==", "=="] + ["Completed", "cwd", "cwd", "->", ">>", "other", "cut"]
    kind = draw(st.sampled_from(kinds))
    head = draw(TS) + draw(PID)
    if kind == "cwd":
        path = draw(st.sampled_from(["/home/shop/public_html/x", "/var/spool/exim4", "/home/a b", ""]))
        return f"{head} cwd={path} 3 args: /usr/sbin/sendmail -t"
    if kind == "other":
        return draw(st.sampled_from([f"{head} SMTP connection from [1.2.3.4]", "garbage", "", "2026-11-20 01:00"]))
    mid = draw(st.sampled_from(IDS))
    if kind == "cut":
        return f"{head} {mid} <"
    body = draw(arrival()) if kind == "<=" else "" if kind in (">>", "Completed") else draw(OUTCOME)
    return f"{head} {mid} {kind}{body}"


@needs_accel
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line(), min_size=5, max_size=80), newline_at_end=st.booleans())
def test_random_logs(lines: list[str], newline_at_end: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "random.log"
    path.write_bytes(("\n".join(lines) + ("\n" if newline_at_end else "")).encode())
    monkeypatch.setattr(fastscan, "BLOCK", 256)  # blocks end mid-log, lines carry over
    pure, fast = both(monkeypatch, path)
    assert fast == pure


@needs_accel
def test_endless_line_is_bounded_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastscan, "MAX_LINE", 1 << 16)
    monkeypatch.setattr(fastscan, "BLOCK", 1 << 14)
    log = tmp_path / "x"
    log.write_bytes(b"A" * (1 << 20) + b"\n" + (DATA / "mixed_ids.log").read_bytes() + b"B" * 5000)
    pure, fast = both(monkeypatch, log)
    assert fast == pure and fast["sigs"]


@needs_accel
def test_small_caps_are_honoured_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the C code reads the caps from maildoctor.outbreak.aggregate; past IP_TABLE_CAP the
    # client-IP table is trimmed by Python in both paths
    path = tmp_path / "gen.log"
    generate(path, messages=4000, seed=8, id_format="mixed", scenario="outbreak")
    for name, value in (("IP_TABLE_CAP", 7), ("DOMAIN_CAP", 3), ("IP_CAP", 2), ("EVIDENCE_PER_SIG", 1)):
        monkeypatch.setattr(aggregate, name, value)
    pure, fast = both(monkeypatch, path)
    assert fast == pure
    assert all(len(v[2]) <= 3 + 20 for v in fast["sigs"].values())  # one arrival may add its whole list
    assert len(fast["client_ips"]) < 100
