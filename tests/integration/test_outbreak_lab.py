"""outbreak and queue on the real lab: a public_html script flood is the top suspect, the spool
reader agrees with `exim -bp`, and --apply freezes exactly the suspect's messages in real Exim."""

from __future__ import annotations

import re
import shlex
import time

import pytest

from maildoctor.outbreak.fastscan import scan_files
from maildoctor.outbreak.report import analyze_sources
from maildoctor.queue.exim_bp import parse_exim_bp
from maildoctor.queue.exim_spool import read_exim_spool
from mdlab import LabRun

pytestmark = pytest.mark.integration

SCRIPT_DIR = "/home/bob/public_html/wp-content/uploads"


def _flood_ids(lab: LabRun, name: str) -> list[str]:
    """The messages the script itself sent (the scenario also lists the bounces and warnings they caused)."""
    if name not in lab.scenarios:
        pytest.skip(f"the lab has no scenario {name}")
    sc = lab.scenarios[name]
    pattern = re.compile(rf"^\S+ \S+ (?:\[\d+\] )?(\S+) <= .* id=mdlab-{name}-\d+@", re.M)
    ids = pattern.findall(lab.mainlog.read_text(errors="replace"))
    assert len(ids) == len(sc.recipients), sc.notes
    return ids


def test_script_flood_is_the_top_suspect(lab: LabRun) -> None:
    flood = _flood_ids(lab, "script_flood") + _flood_ids(lab, "script_flood_queued")
    suspects = analyze_sources(scan_files([str(lab.mainlog)], workers=1))
    top = suspects[0]
    assert (top.kind, top.value) == ("script", SCRIPT_DIR), [(s.kind, s.value, s.score) for s in suspects[:5]]
    assert top.messages == len(flood)
    assert any(r.id == "script_in_writable_dir" for r in top.reasons)
    assert top.evidence and all(e.line for e in top.evidence)
    assert any(mid in e.text for e in top.evidence for mid in flood)


def test_spool_reader_agrees_with_exim_bp(lab: LabRun) -> None:
    spool = read_exim_spool(lab.spool)
    bp = lab.exim("-bp")
    assert bp.returncode == 0, bp.stderr
    listed = parse_exim_bp(bp.stdout, now=time.time())
    assert listed.errors == ()
    assert spool.messages, "the lab's queue is empty"

    def key(m):  # type: ignore[no-untyped-def]
        return (m.message_id, m.sender, m.recipients, m.pending, m.frozen)

    assert sorted(map(key, spool.messages)) == sorted(map(key, listed.messages))
    sizes = {m.message_id: m.size for m in listed.messages}
    for m in spool.messages:  # exim -bp rounds sizes above 1K
        assert m.size is not None and abs(m.size - sizes[m.message_id]) <= max(60, m.size // 20)


def test_apply_freezes_exactly_the_suspects_queued_messages(lab: LabRun, cli) -> None:  # type: ignore[no-untyped-def]
    queued = set(_flood_ids(lab, "script_flood_queued"))
    in_queue_before = {m.message_id: m.frozen for m in read_exim_spool(lab.spool).messages}
    assert queued <= in_queue_before.keys()
    exim = shlex.join([*lab.lab.ns._prefix(None, None), "/usr/sbin/exim4"])
    live_root = lab.spool.parent.parent.parent
    try:
        res = cli(
            "outbreak",
            "--log",
            str(lab.mainlog),
            "--root",
            str(live_root),
            "--apply",
            "--source",
            f"script={SCRIPT_DIR}",
            "--exim",
            exim,
            "--format",
            "json",
        )
        assert res.code in (0, 1), res.err
        applied = res.json()["apply"]
        assert applied["action"] == "freeze" and not applied["failed"]
        assert set(applied["done"]) == queued
        listed = parse_exim_bp(lab.exim("-bp").stdout, now=time.time()).messages
        frozen_now = {m.message_id for m in listed if m.frozen}
        was_frozen = {k for k, v in in_queue_before.items() if v}
        assert frozen_now - was_frozen == queued  # exactly the script's messages, nothing else
        assert {m.message_id for m in listed} == set(in_queue_before)  # nothing was removed
    finally:
        for mid in queued:
            lab.exim("-Mt", mid)  # leave the shared lab as it was
