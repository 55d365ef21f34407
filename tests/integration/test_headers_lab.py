"""`maildoctor headers` on a message that really went through the lab: the remote MX greylisted
the first attempt (451 4.7.1), our Exim retried on the next queue run. Joined with our log, the
verdict must place the delay on our server and name the remote answer from the log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mdlab import LabRun

pytestmark = pytest.mark.integration


def _delivered_copy(lab: LabRun, scenario: str) -> Path:
    sc = lab.scenarios[scenario]
    marker = f"mdlab-{scenario}-"
    for path in [*sc.files, *lab.remote_delivered]:
        if marker in path.read_text(errors="replace"):
            return path
    pytest.fail(f"{scenario}: no delivered copy found ({sc.notes})")


def test_delay_is_placed_on_our_server(lab: LabRun, cli: Callable[..., Any]) -> None:
    sc = lab.scenarios["delayed_then_delivered"]
    assert sc.message_ids, sc.notes
    copy = _delivered_copy(lab, "delayed_then_delivered")
    res = cli("headers", str(copy), "--root", str(lab.root), "--format", "json")
    assert res.code in (0, 1), res.err
    doc = res.json()
    # two hops: our Exim, then the remote MX; our hop carries the id our log knows
    assert len(doc["hops"]) == 2
    assert doc["hops"][0]["id"] == sc.message_ids[0]
    assert doc["local"] is not None, [f["id"] for f in doc["findings"]]
    assert doc["local"]["matched_by"] == f"exim id {sc.message_ids[0]}"
    assert doc["local"]["hop_index"] == 1
    deferrals = doc["local"]["deferrals"]
    assert deferrals, "the log shows no deferral for this message"
    assert all("451 4.7.1 Greylisted" in d["answer"] for d in deferrals)
    assert doc["verdict"]["where"] == "on_our_server"
    assert "451 4.7.1 Greylisted" in doc["verdict"]["summary"]
    # the header delay of the remote hop is the time the message spent in our queue
    assert doc["hops"][1]["delay_seconds"] >= doc["local"]["queue_seconds"] - 1
    verdict = next(f for f in doc["findings"] if f["id"] == "headers.verdict")
    # the lab's retry comes after seconds: worth knowing, not yet a problem (minutes would be a warning)
    assert verdict["severity"] == ("warning" if doc["local"]["queue_seconds"] >= 120 else "info")
    assert any(e["source"] == str(lab.mainlog) and "==" in e["text"] for e in verdict["evidence"])


def test_delivered_without_delay_is_not_blamed_on_us(lab: LabRun, cli: Callable[..., Any]) -> None:
    sc = lab.scenarios["auth_submission"]
    copy = _delivered_copy(lab, "auth_submission")
    doc = cli("headers", str(copy), "--log", str(lab.mainlog), "--format", "json").json()
    assert doc["local"]["matched_by"] == f"exim id {sc.message_ids[0]}"
    assert doc["local"]["deferrals"] == []
    assert doc["verdict"]["where"] == "none"
    assert doc["hops"][0]["authenticated"] is True


def _bounce_for(paths: list[Path], marker: str) -> Path:
    for path in paths:
        if marker in path.read_text(errors="replace"):
            return path
    pytest.fail(f"no bounce carrying {marker}")


def test_exim_bounce_carries_the_original_and_joins_our_log(lab: LabRun, cli: Callable[..., Any]) -> None:
    sc = lab.scenarios["remote_user_unknown"]
    bounce = _bounce_for(lab.bounces, "mdlab-remote_user_unknown-")
    doc = cli("headers", str(bounce), "--log", str(lab.mainlog), "--format", "json").json()
    assert doc["source"] == "embedded message/rfc822"
    assert doc["message_id"] == "<mdlab-remote_user_unknown-1@alice-shop.test>"
    assert doc["local"]["matched_by"] == f"exim id {sc.message_ids[0]}"
    assert doc["local"]["final_status"] == "failed"
    verdict = next(f for f in doc["findings"] if f["id"] == "headers.verdict")
    assert "has not delivered it (failed)" in verdict["title"] and "550" in verdict["explanation"]


def test_postfix_bounce_joins_the_postfix_log(lab: LabRun, cli: Callable[..., Any]) -> None:
    sc = lab.scenarios["postfix_bounce"]
    bounce = _bounce_for(lab.postfix_bounces, "mdlab-postfix_bounce-")
    doc = cli("headers", str(bounce), "--log", str(lab.postfix_log), "--format", "json").json()
    assert doc["source"] == "embedded message/rfc822"
    assert doc["hops"][-1]["id"] == sc.message_ids[0]
    assert doc["local"]["matched_by"] == f"postfix id {sc.message_ids[0]}"
    assert doc["local"]["final_status"] == "failed"
