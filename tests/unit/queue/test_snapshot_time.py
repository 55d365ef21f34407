"""A copied server root is judged at the time it was taken, not at today's date."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from maildoctor.demo import demo_root
from maildoctor.outbreak.run import build_queue_report, snapshot_time


def test_snapshot_queue_ages_do_not_depend_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_queue_report(demo_root(), None)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 365 * 86400)
    later = build_queue_report(demo_root(), None)
    assert first.shape is not None and later.shape is not None
    assert later.shape == first.shape


def test_live_root_is_judged_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1234.5)
    assert snapshot_time(Path("/"), None, None) == 1234.5
