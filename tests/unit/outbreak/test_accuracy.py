"""Accuracy on seeded generated logs with ground truth (bench/eximgen, outbreak scenario):
the compromised script and SMTP-auth mailbox are the top suspects, legitimate bulk is never critical."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.eximgen import HOSTNAME, generate
from maildoctor.model import Severity
from maildoctor.outbreak.fastscan import scan_files
from maildoctor.outbreak.report import analyze_sources


def _truth_keys(src: dict[str, str]) -> set[tuple[str, str]]:
    if src["kind"] == "script":
        return {("script", src["value"]), ("local_user", src["user"]), ("sender", src["sender"].lower())}
    keys = {("auth_login", src["value"]), ("sender", src["value"].lower())}
    if src.get("ip"):
        keys.add(("client_ip", src["ip"]))
    return keys


@pytest.mark.parametrize(("id_format", "seed"), [("old", 1), ("new", 2), ("mixed", 3), ("mixed", 4)])
def test_outbreak_sources_on_top_and_legit_bulk_not_critical(id_format: str, seed: int, tmp_path: Path) -> None:
    log = tmp_path / "mainlog"
    gt = generate(log, messages=8000, seed=seed, id_format=id_format, scenario="outbreak")
    suspects = analyze_sources(scan_files([str(log)], workers=1), limit=0)
    rank = {(s.kind, s.value): i for i, s in enumerate(suspects)}
    related: set[tuple[str, str]] = set()
    for src in gt.outbreak_sources:
        related |= _truth_keys(src)
    first_unrelated = min(i for i, s in enumerate(suspects) if (s.kind, s.value) not in related)
    script = next(s for s in gt.outbreak_sources if s["kind"] == "script")
    auth = next(s for s in gt.outbreak_sources if s["kind"] == "smtp-auth")
    for key in (("script", script["value"]), ("auth_login", auth["value"])):
        assert rank[key] < first_unrelated, (key, [(s.kind, s.value, s.score) for s in suspects[:8]])
        assert suspects[rank[key]].severity is Severity.CRITICAL
    assert script["sender"] == f"shop@{HOSTNAME}"
    for src in gt.legit_bulk_sources:
        assert _truth_keys(src) & rank.keys(), src  # it is measured...
        for key in _truth_keys(src):
            if key in rank:
                rep = suspects[rank[key]]
                # ...and never critical
                assert rep.severity is not Severity.CRITICAL, (key, rep.score, [r.id for r in rep.reasons])
