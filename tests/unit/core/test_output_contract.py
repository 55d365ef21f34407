"""The output contract: JSON document shape, exit codes, severity ranking, plain text without colour."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from maildoctor.model import Evidence, Finding, Severity, exit_code_for, rank_findings
from maildoctor.render.jsonout import SCHEMA_VERSION, render_json

F_CRIT = Finding("a.crit", Severity.CRITICAL, "bad", evidence=(Evidence("log", "line", "/var/log/x", 3),))
F_INFO = Finding("a.info", Severity.INFO, "fyi")
F_UNK = Finding("a.unknown", Severity.UNKNOWN, "could not check")


def test_ranking_puts_critical_first_and_keeps_order_within_severity() -> None:
    w1 = Finding("w1", Severity.WARNING, "w1")
    w2 = Finding("w2", Severity.WARNING, "w2")
    ranked = rank_findings([F_INFO, w1, F_UNK, F_CRIT, w2])
    assert [f.id for f in ranked] == ["a.crit", "w1", "w2", "a.unknown", "a.info"]


def test_exit_codes() -> None:
    assert exit_code_for([]) == 0
    assert exit_code_for([F_INFO, F_UNK]) == 0  # unknown is never a problem
    assert exit_code_for([F_INFO, F_CRIT]) == 1


def test_json_document_shape() -> None:
    doc = json.loads(render_json("x", [F_CRIT], {"when": dt.datetime(2026, 11, 28, 8, 0), "path": Path("/a")}))
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["command"] == "x"
    assert doc["when"] == "2026-11-28T08:00:00"
    assert doc["path"] == "/a"
    f = doc["findings"][0]
    assert f["severity"] == "critical"
    assert f["evidence"][0] == {"kind": "log", "text": "line", "source": "/var/log/x", "line": 3}
    assert set(f) >= {"id", "severity", "title", "explanation", "evidence", "fix"}
