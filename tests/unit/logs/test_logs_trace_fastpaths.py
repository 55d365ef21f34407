"""Shortcuts of trace that skip work must not change any story."""

from __future__ import annotations

import re

import pytest

from maildoctor.logs import trace as trace_mod
from maildoctor.logs.exim import ID_PATTERN
from maildoctor.logs.trace import trace
from maildoctor.render.jsonout import to_jsonable


def test_lines_without_an_id_are_skipped_without_changing_stories(genlog, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    log, _gt = genlog("mixed")
    id_re = re.compile(ID_PATTERN.encode())
    idless: dict[bytes, int] = {}
    for line in log.read_bytes().splitlines():
        if not id_re.search(line):
            for addr in re.findall(rb"[\w.+-]+@[\w.-]+\w", line):
                idless[addr.lower()] = idless.get(addr.lower(), 0) + 1
    # addresses that appear on id-less lines (rejections, authentication failures): the skipped ones
    busiest = sorted(idless, key=lambda a: (-idless[a], a))[:4]
    assert busiest and idless[busiest[0]] >= 5
    for addr in busiest:
        q = addr.decode()
        fast = trace(q, [log], limit=3)
        with monkeypatch.context() as mp:
            mp.setattr(trace_mod, "_idless", lambda line, exim: False)  # parse every line
            slow = trace(q, [log], limit=3)
        assert to_jsonable(fast.messages) == to_jsonable(slow.messages)
        assert fast.more == slow.more
        assert fast.messages or fast.more == 0
