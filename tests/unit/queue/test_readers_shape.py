"""exim -bp text, postqueue -j, the queue's shape and the disk projection."""

from __future__ import annotations

import json

from maildoctor.queue.exim_bp import parse_exim_bp, parse_size
from maildoctor.queue.growth import project_growth
from maildoctor.queue.model import QueuedMessage
from maildoctor.queue.postqueue import parse_postqueue_json
from maildoctor.queue.shape import analyze_queue

BP = """\
25m  2.9K 1tA2bC-0004Xy-Ab <spam@shop.example> *** frozen ***
          a@gmail.example
        D b@yahoo.example

 3h   12K 1tA2bC-00000001AbC-0Xy1 <> (mailnull)
          c@gmail.example

 4d  1.2M 1tA2bD-0004Xz-Ac <user@shop.example>
    *** spool read error: Permission denied ***
"""


def test_parse_exim_bp_both_id_formats_and_ages() -> None:
    read = parse_exim_bp(BP, now=1_000_000.0)
    ids = [m.message_id for m in read.messages]
    assert ids == ["1tA2bC-0004Xy-Ab", "1tA2bC-00000001AbC-0Xy1", "1tA2bD-0004Xz-Ac"]
    first, bounce, old = read.messages
    assert first.frozen and first.pending == ("a@gmail.example",) and first.size == parse_size("2.9K")
    assert bounce.sender == "" and bounce.local_user == "mailnull"
    assert 1_000_000.0 - old.arrival == 4 * 86400  # type: ignore[operator]
    assert old.size == int(1.2 * 1024 * 1024)
    assert len(read.errors) == 1 and "spool read error" in read.errors[0]


def test_parse_exim_bp_garbage_is_reported() -> None:
    read = parse_exim_bp("hello world\n", now=0.0)
    assert read.messages == () and len(read.errors) == 1


def test_postqueue_json() -> None:
    lines = [
        {
            "queue_name": "deferred",
            "queue_id": "4F2A11C0E3",
            "arrival_time": 1000,
            "message_size": 2048,
            "sender": "a@shop.example",
            "recipients": [{"address": "x@gmail.example", "delay_reason": "timeout"}],
        },
        {
            "queue_name": "hold",
            "queue_id": "5B3",
            "arrival_time": 2000,
            "message_size": 10,
            "sender": "",
            "recipients": [{"address": "y@b.example"}],
        },
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{broken\n"
    read = parse_postqueue_json(text)
    assert [m.message_id for m in read.messages] == ["4F2A11C0E3", "5B3"]
    assert read.messages[1].frozen and not read.messages[0].frozen
    assert read.messages[0].recipients == ("x@gmail.example",)
    assert len(read.errors) == 1 and ":3:" in read.errors[0]


def _msg(i: int, age: float, sender: str, rcpts: tuple[str, ...], frozen: bool = False) -> QueuedMessage:
    return QueuedMessage(f"id{i}", sender, rcpts, rcpts, arrival=10_000.0 - age, size=100, frozen=frozen)


def test_shape_counts_ages_and_qshape() -> None:
    msgs = [
        _msg(1, 60, "spam@x.example", ("a@gmail.example", "b@gmail.example")),
        _msg(2, 2 * 3600, "spam@x.example", ("c@yahoo.example",), frozen=True),
        _msg(3, 8 * 86400, "", ("d@gmail.example",)),
    ]
    shape = analyze_queue(msgs, now=10_000.0)
    assert (shape.messages, shape.total_size, shape.frozen, shape.bounces) == (3, 300, 1, 1)
    assert shape.oldest_age == 8 * 86400
    assert shape.age_histogram["<1h"] == 1 and shape.age_histogram["1-6h"] == 1 and shape.age_histogram[">7d"] == 1
    assert shape.top_senders[0] == ("spam@x.example", 2)
    rows = {d: (t, c) for d, t, c in shape.qshape}
    assert rows["gmail.example"][0] == 3
    assert rows["gmail.example"][1][0] == 2  # two recipients under 5 minutes
    assert rows["gmail.example"][1][-1] == 1  # one older than 1280 minutes
    assert rows["yahoo.example"][1][shape.qshape_columns.index("160") - 1] == 1  # 120 min: the 80-160 column


def test_growth_projection() -> None:
    arrivals = {
        "2026-11-01 10": (1000, 10_000_000),
        "2026-11-01 11": (1200, 12_000_000),
        "2026-11-01 12": (1400, 14_000_000),
    }
    completions = {"2026-11-01 10": 200, "2026-11-01 11": 200, "2026-11-01 12": 200}
    g = project_growth(arrivals, completions, free_bytes=10**9)
    assert g is not None
    assert g.net_messages_per_hour == 1000
    assert g.hours_until_full is not None and 80 < g.hours_until_full < 100  # 1e9 / (1000 * (10000 + 2048))
    shrinking = project_growth(arrivals, {k: 5000 for k in arrivals}, free_bytes=10**9)
    assert shrinking is not None and shrinking.hours_until_full is None
    assert project_growth({}, {}, 1) is None
