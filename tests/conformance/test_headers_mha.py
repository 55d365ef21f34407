"""Conformance with Microsoft's Message Header Analyzer tests (corpus headers-microsoft-mha).

Every expectation row is checked: hop order, from/by/with/id/for/via as MHA shows them, the
hop time (epoch ms), the per-hop delay (ms, and the seconds in MHA's delay text), the share
(percent), and the total of each chain. Fields MHA leaves out must be absent here too.

Documented exceptions (EXCEPTIONS below): rows whose header text the corpus does not hold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from maildoctor.headers.hops import analyze_chain
from maildoctor.headers.message import parse_header_text
from maildoctor.headers.received import parse_received

pytestmark = pytest.mark.conformance

CLAUSES = {"from": "from_", "by": "by", "with": "with_", "id": "id", "for": "for_", "via": "via"}

# (describe, index in its expectations list) -> why it is not checked
EXCEPTIONS = {
    ("Received Time Tests", 6): "corpus row holds the wrong header: upstream test h6_1 rebinds `str` to "
    "'4/20/2018 11:01:16 PM -0400 (EDT)'; the extraction kept the last binding (11:01:36 PM, no zone). "
    "The upstream text is covered in tests/unit/headers/test_dates.py",
    ("Received Time Tests", 7): "same extraction defect (upstream h6_2 is '4/20/2018 11:01:26 PM +0000'); "
    "covered in tests/unit/headers/test_dates.py",
}


def _mha_seconds(text: str) -> int:
    """MHA delay text ("-16 minutes 31 seconds", "1 second") as signed whole seconds."""
    m = re.fullmatch(r"(-?)(?:(\d+) minutes? ?)?(?:(\d+) seconds?)?", text.strip())
    assert m, text
    total = int(m.group(2) or 0) * 60 + int(m.group(3) or 0)
    return -total if m.group(1) else total


def _whole_seconds(seconds: float) -> int:
    """Truncate toward zero: how a delay reads in whole seconds (-0.028 s is 0 s)."""
    return int(seconds)


def _load(corpora: Path) -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(
        (corpora / "headers-microsoft-mha" / "received_expectations.json").read_text()
    )
    return data


def _check_fields(rec: Any, expected: dict[str, Any], where: str) -> list[str]:
    errors = []
    for key, attr in CLAUSES.items():
        got = getattr(rec, attr)
        want = expected.get(key)
        if got != want:
            errors.append(f"{where}: {key}: expected {want!r}, got {got!r}")
    want_ms = expected.get("dateNum")
    got_ms = rec.date.epoch_ms if rec.date else None
    if got_ms != want_ms:
        errors.append(f"{where}: dateNum: expected {want_ms}, got {got_ms}")
    return errors


def test_chains(corpora: Path) -> None:
    blocks = [b for b in _load(corpora)["mha_received.ts"] if any(e["kind"] == "row" for e in b["expectations"])]
    assert len(blocks) == 2
    checked = 0
    errors: list[str] = []
    for block in blocks:
        chain_file = corpora / "headers-microsoft-mha" / f"chain-{block['describe'].replace(' ', '_')}.txt"
        headers = parse_header_text(chain_file.read_bytes())
        chain = analyze_chain(headers.get_all("Received"))
        rows = [e for e in block["expectations"] if e["kind"] == "row"]
        assert len(chain.hops) == len(rows), block["describe"]
        for exp in rows:
            want = exp["expected"]
            hop = chain.hops[exp["row"]]
            where = f"{block['describe']} row {exp['row']}"
            if hop.index != want["hop"]:
                errors.append(f"{where}: hop {hop.index} != {want['hop']}")
            errors += _check_fields(hop.received, want, where)
            if want["delaySort"] == -1:
                ok = hop.delay_seconds is None
            else:
                ok = hop.delay_seconds is not None and round(hop.delay_seconds * 1000) == want["delaySort"]
            if not ok:
                errors.append(f"{where}: delay {hop.delay_seconds} s != {want['delaySort']} ms")
            if "delay" in want and (
                hop.delay_seconds is None or _whole_seconds(hop.delay_seconds) != _mha_seconds(want["delay"])
            ):
                errors.append(f"{where}: delay text {want['delay']!r} != {hop.delay_seconds}")
            if abs(hop.share_percent - want["percent"]) > 1e-9:
                errors.append(f"{where}: percent {hop.share_percent} != {want['percent']}")
            checked += 1
        (total_text,) = block["expected_computeDeltas"]
        assert chain.total_seconds is not None
        if _whole_seconds(chain.total_seconds) != _mha_seconds(total_text):
            errors.append(f"{block['describe']}: total {chain.total_seconds} != {total_text!r}")
    assert not errors, "\n".join(errors)
    assert checked == 9
    print(f"MHA chain rows: {checked}/9 agree; totals 2/2")


def test_single_headers(corpora: Path) -> None:
    data = _load(corpora)
    cases = [
        (b["describe"], i, e)
        for b in data["mha_received.ts"] + data["mha_received_time.ts"]
        for i, e in enumerate(b["expectations"])
        if e["kind"] == "parseHeader"
    ]
    assert len(cases) == 27
    errors: list[str] = []
    passed = skipped = 0
    for describe, i, exp in cases:
        if (describe, i) in EXCEPTIONS:
            skipped += 1
            continue
        header = exp["header"]
        rec = parse_received(header)
        want = exp["expected"]
        where = f"{describe} #{i} {header!r}"
        if describe == "Received Time Tests":
            # only the date is asserted upstream (datesEqual)
            got_ms = rec.date.epoch_ms if rec.date else None
            if got_ms != want["dateNum"]:
                errors.append(f"{where}: dateNum {got_ms} != {want['dateNum']}")
            else:
                passed += 1
            continue
        found = _check_fields(rec, want, where)
        chain = analyze_chain([header] if header else [])
        for hop in chain.hops:  # a lone header has no delay and no share (MHA: delaySort -1, percent 0)
            if hop.delay_seconds is not None or hop.share_percent != 0:
                found.append(f"{where}: lone hop has a delay")
        errors += found
        passed += not found
    assert not errors, "\n".join(errors)
    assert passed + skipped == len(cases)
    assert skipped == len(EXCEPTIONS)
    print(f"MHA single-header cases: {passed}/{len(cases)} agree, {skipped} documented exceptions")


def test_compute_time(corpora: Path) -> None:
    """MHA's computeTime cases: our whole-second reading of a ms difference matches theirs."""
    (block,) = _load(corpora)["mha_received_time.ts"]
    (ct,) = [e for e in block["expectations"] if e["kind"].startswith("computeTime")]
    assert len(ct["cases"]) == 10
    for case in ct["cases"]:
        a, b = (int(x) for x in case["args"].split(","))
        assert _whole_seconds((a - b) / 1000) == _mha_seconds(case["expected"]), case
