"""trace on a live server's log: the file may be rotated or truncated between the two passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildoctor.logs import trace as trace_mod
from maildoctor.logs.trace import trace

LINES = [
    "2026-11-28 10:00:00 1xNJ01-000b54-LX <= bob@client.example H=mx.client.example [198.51.100.3] P=esmtp S=900 "
    "for office@shop.example",
    "2026-11-28 10:00:01 1xNJ01-000b54-LX => office <office@shop.example> R=virtual_user T=virtual_userdelivery",
    "2026-11-28 10:00:01 1xNJ01-000b54-LX Completed",
]


def _after_first_pass(monkeypatch: pytest.MonkeyPatch, action) -> None:  # type: ignore[no-untyped-def]
    first = trace_mod._first_pass

    def wrapped(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        first(*args, **kwargs)
        action()

    monkeypatch.setattr(trace_mod, "_first_pass", wrapped)


@pytest.mark.parametrize("how", ["rotated", "truncated"])
def test_a_log_changed_between_the_passes_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      how: str) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text("\n".join(LINES) + "\n")

    def change() -> None:
        if how == "rotated":
            log.rename(tmp_path / "exim_mainlog.1")
            log.write_text("2026-11-28 10:05:00 Start queue run: pid=4242\n" * 10)
        else:
            log.write_text("")

    _after_first_pass(monkeypatch, change)
    result = trace("office@shop.example", [log])
    assert result.messages == []
    assert [p.message for p in result.problems] == [
        "replaced or truncated while it was read (log rotation?); its messages are missing: run the trace again"]


def test_a_log_growing_between_the_passes_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text("\n".join(LINES[:2]) + "\n")

    def grow() -> None:  # Exim appends while we read
        with log.open("a") as fh:
            fh.write(LINES[2] + "\n")

    _after_first_pass(monkeypatch, grow)
    result = trace("office@shop.example", [log])
    assert not result.problems
    story = result.by_id("1xNJ01-000b54-LX")
    assert story is not None and story.final_status == "delivered" and len(story.evidence) == 3
