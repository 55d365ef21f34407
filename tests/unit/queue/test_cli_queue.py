"""`maildoctor queue` from saved listings, and its errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

DATA = Path(__file__).parent / "data"


def test_saved_exim_bp_ages_are_relative_to_when_it_was_taken(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "bp.txt"
    saved.write_text((DATA / "flat.exim-bp.txt").read_text())
    os.utime(saved, (1_000_000, 1_000_000))  # taken long ago: the message was 11 minutes old then
    res = cli("queue", "--root", str(tmp_path), "--exim-bp", str(saved), "--format", "json")
    assert res.code == 0, res.err
    q = res.json()["queue"]
    assert q["messages"] == 1 and q["frozen"] == 1 and q["reader"] == "exim-bp"
    assert q["oldest_age_seconds"] == 11 * 60


def test_postqueue_json_from_stdin(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec = {
        "queue_name": "hold",
        "queue_id": "4F2A11C0E3",
        "arrival_time": 1,
        "message_size": 100,
        "sender": "a@b.example",
        "recipients": [{"address": "x@y.example"}],
    }
    res = cli(
        "queue", "--root", str(tmp_path), "--postqueue-json", "-", "--format", "json", stdin=json.dumps(rec) + "\n"
    )
    assert res.code == 0, res.err
    q = res.json()["queue"]
    assert q["messages"] == 1 and q["frozen"] == 1 and q["top_recipient_domains"][0]["domain"] == "y.example"


def test_no_queue_is_a_clear_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("queue", "--root", str(tmp_path))
    assert res.code == 2 and "no mail queue found" in res.err and res.err.count("\n") == 1


def test_both_saved_listings_is_a_usage_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("queue", "--root", str(tmp_path), "--exim-bp", "a", "--postqueue-json", "b")
    assert res.code == 2 and "either" in res.err
