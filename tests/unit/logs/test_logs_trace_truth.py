"""trace against the generator's ground truth: old, new (Exim 4.97+) and mixed message ids."""

from __future__ import annotations

import random

import pytest

from bench.eximgen import load_truth
from maildoctor.errors import UsageError
from maildoctor.logs.read import iter_events
from maildoctor.logs.trace import classify_query, trace
from maildoctor.render.jsonout import to_jsonable


@pytest.mark.parametrize("id_format", ["old", "new", "mixed"])
def test_final_status_and_recipients_match_truth(genlog, id_format: str) -> None:  # type: ignore[no-untyped-def]
    path, truth = genlog(id_format)
    assert truth.total_messages >= 2000
    sample = random.Random(3).sample(sorted(truth.messages), 120)
    wrong = []
    for mid in sample:
        want = truth.messages[mid]
        story = trace(mid, [path]).by_id(mid)
        assert story is not None, mid
        got = {r.address: r.status for r in story.recipients}
        if story.final_status != want.final_status or got != want.recipients:
            wrong.append((mid, want.final_status, story.final_status, want.recipients, got))
        if want.bounce:
            assert want.bounce in story.related, mid
        if want.source_kind in ("script", "smtp-auth"):
            assert story.source["kind"] == want.source_kind, mid
            key = "script_path" if want.source_kind == "script" else "auth_id"
            assert story.source[key] == want.source_value, mid
    assert not wrong, wrong[:5]


def test_every_final_status_kind_is_exercised(genlog) -> None:  # type: ignore[no-untyped-def]
    _, truth = genlog("mixed")
    kinds = {m.final_status for m in load_truth(truth.truth_path)}
    assert {"delivered", "failed", "partial", "frozen"} <= kinds


def test_bounce_links_back_to_its_parent(genlog) -> None:  # type: ignore[no-untyped-def]
    path, truth = genlog("mixed")
    parent = next(m for m in truth.messages.values() if m.bounce and m.source_kind == "script")
    result = trace(parent.bounce or "", [path])
    bounce = result.by_id(parent.bounce or "")
    assert bounce is not None and bounce.is_bounce and bounce.parent_id == parent.id
    assert parent.id in bounce.related


def test_address_query_finds_every_message_from_or_to_it(genlog) -> None:  # type: ignore[no-untyped-def]
    path, truth = genlog("old")
    everything = list(load_truth(truth.truth_path))
    rng = random.Random(8)
    remote = rng.choice([a for m in everything if m.source_kind == "smtp-auth" for a in m.recipients])
    for address in (remote, "info@client.example", remote.upper()):
        want = {m.id for m in everything
                if m.sender.lower() == address.lower() or address.lower() in {r.lower() for r in m.recipients}}
        got = trace(address, [path], limit=10**6)
        ids = {s.id for s in got.messages}
        assert want <= ids and got.more == 0, address
        # the extra ids are bounces and warnings linked to these messages
        for s in got.messages:
            if s.id not in want:
                assert s.parent_id in want or any(r in want for r in s.related), s.id


def test_address_query_shows_the_newest_messages_and_counts_the_others(genlog) -> None:  # type: ignore[no-untyped-def]
    path, _truth = genlog("mixed")
    address = "info@client.example"
    # every message naming the address as sender, recipient or login, by its first line (read with
    # the plain reader, not trace's scanner)
    named: dict[str, None] = {}
    for ev in iter_events([path]):
        people = [ev.sender, ev.recipient, ev.original_recipient, ev.auth_id, *ev.extra.get("recipients", "").split()]
        if ev.message_id and address in {(p or "").lower() for p in people}:
            named.setdefault(ev.message_id)
    order = list(named)
    assert len(order) > 30
    got = trace(address, [path], limit=25)
    assert [s.id for s in got.messages if s.id in named] == order[-25:]
    assert got.more == len(order) - 25
    everything = trace(address, [path], limit=10**6)
    assert everything.more == 0 and [s.id for s in everything.messages if s.id in named] == order


def test_message_id_query(genlog) -> None:  # type: ignore[no-untyped-def]
    path, truth = genlog("new")
    one = next(m for m in truth.messages.values() if m.source_kind == "smtp")
    story = trace(one.id, [path]).by_id(one.id)
    assert story is not None and story.message_id
    for q in (f"<{story.message_id}>", story.message_id):
        found = trace(q, [path])
        assert [s.id for s in found.messages][:1] == [one.id]


def test_query_classification() -> None:
    assert classify_query("1tA2bC-0004Xy-Ab")[0] == "exim_id"
    assert classify_query("1tA2bC-00000001AbC-0Xy1")[0] == "exim_id"
    assert classify_query("4B2C3D1E2F")[0] == "postfix_id"
    assert classify_query("<abc@x>") == ("message_id", "abc@x")
    assert classify_query("bob@x.example")[0] == "address"
    with pytest.raises(UsageError):
        classify_query("hello")


def test_seeking_by_the_time_in_the_id_gives_the_same_story(genlog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from maildoctor.logs import seek as exim
    from maildoctor.logs import trace as trace_mod

    path, truth = genlog("mixed")
    ids = random.Random(4).sample(sorted(truth.messages), 25)
    seeking = {mid: trace(mid, [path]) for mid in ids}
    size = path.stat().st_size
    data = path.read_bytes()
    offsets = [exim.seek_offset(data, size, mid) for mid in ids]
    assert all(o is not None for o in offsets) and any(o for o in offsets)  # the shortcut is really taken
    monkeypatch.setattr(trace_mod, "seek_offset", lambda m, size, mid: None)
    for mid in ids:
        full = trace(mid, [path])
        a, b = seeking[mid], full
        assert [(s.id, s.final_status, [e.line_no for e in s.evidence]) for s in a.messages] == [
            (s.id, s.final_status, [e.line_no for e in s.evidence]) for s in b.messages], mid


def test_seek_offset_edges(genlog) -> None:  # type: ignore[no-untyped-def]
    from maildoctor.logs import seek as exim

    path, truth = genlog("old")
    data = path.read_bytes()
    first = min(truth.messages.values(), key=lambda m: m.received_at)
    assert exim.seek_offset(data, len(data), first.id) == 0  # within the margin of the start
    future = "2" + first.id[1:]  # decades later
    assert exim.seek_offset(data, len(data), future) == len(data)
    assert exim.seek_offset(b"2026-11-25 10:00:00 no arrival here\n", 37, first.id) is None


def test_memory_bounds_do_not_change_the_newest_messages(genlog, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from maildoctor.logs import trace as trace_mod

    path, _truth = genlog("mixed")
    address = "info@client.example"
    with monkeypatch.context() as mp:  # no bound at all: every line kept, one generation
        mp.setattr(trace_mod._Chooser, "_newest", lambda self, hits, new: (hits, new))
        mp.setattr(trace_mod, "SEEN_GENERATION", 10**9)
        plain = trace(address, [path], limit=4)
    assert len(plain.messages) >= 4
    # tiny generations of the seen set and a batch trimmed to the newest few: the same messages
    monkeypatch.setattr(trace_mod, "SEEN_GENERATION", 50)
    monkeypatch.setattr(trace_mod._Chooser, "__init__", _small_keep(trace_mod._Chooser.__init__))
    bounded = trace(address, [path], limit=4)
    assert to_jsonable(bounded.messages) == to_jsonable(plain.messages)
    # a message reappearing after 50 others may be counted twice, never missed
    assert plain.more <= bounded.more


def _small_keep(init):  # type: ignore[no-untyped-def]
    def wrapped(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        init(self, *args, **kwargs)
        self.keep = self.limit + 1  # trimming starts at 8 * keep lines in a batch

    return wrapped
