"""Hop order, delays, shares, clock skew, duplicates and missing dates."""

from __future__ import annotations

from maildoctor.headers.analyze import analyze_headers
from maildoctor.headers.hops import analyze_chain
from maildoctor.headers.message import parse_header_text

# message order: newest first
CHAIN = [
    "from mx.example.org by inbox.example.org with LMTP id aaa; Mon, 1 Jan 2024 13:10:05 +0000",
    "from relay.example.net (relay.example.net [198.51.100.2]) by mx.example.org (Postfix) with ESMTPS id BBB1;"
    " Mon, 1 Jan 2024 13:10:00 +0000",
    "from client (dsl.example.com [203.0.113.9]) by relay.example.net with esmtpsa (Exim 4.96) id 1rS-1;"
    " Mon, 1 Jan 2024 10:00:00 +0000",
]


def test_order_delays_total_and_share() -> None:
    chain = analyze_chain(CHAIN)
    assert [h.index for h in chain.hops] == [1, 2, 3]
    assert [h.received.by_host for h in chain.hops] == ["relay.example.net", "mx.example.org", "inbox.example.org"]
    assert [h.delay_seconds for h in chain.hops] == [None, 11400.0, 5.0]
    assert chain.total_seconds == 11405.0
    assert chain.slowest is chain.hops[1]
    assert round(chain.hops[1].share_percent, 4) == round(100 * 11400 / 11405, 4)
    assert sum(h.share_percent for h in chain.hops) == 100.0


def test_negative_delay_is_skew_not_wrapped() -> None:
    skewed = [
        "from b by c with SMTP; Mon, 1 Jan 2024 10:00:00 +0000",
        "from a by b with SMTP; Mon, 1 Jan 2024 10:30:00 +0000",  # b's clock is 30 min ahead
        "from x by a with SMTP; Mon, 1 Jan 2024 10:00:00 +0000",
    ]
    chain = analyze_chain(skewed)
    b_hop, c_hop = chain.hops[1], chain.hops[2]
    assert b_hop.delay_seconds == 1800.0 and not b_hop.skew
    assert c_hop.delay_seconds == -1800.0 and c_hop.skew and c_hop.share_percent == 0.0
    assert chain.total_seconds == 0.0
    report = analyze_headers(parse_header_text("\n".join(f"Received: {h}" for h in skewed) + "\n\n"))
    (skew,) = [f for f in report.findings if f.id == "headers.clock_skew"]
    assert skew.severity.value == "warning"
    assert "10:30:00" in skew.explanation and "10:00:00" in skew.explanation  # both clocks shown


def test_undated_hop_measured_from_last_dated() -> None:
    chain = analyze_chain(
        [
            "from b by c with SMTP; Mon, 1 Jan 2024 10:02:00 +0000",
            "from a by b with SMTP",
            "from x by a with SMTP; Mon, 1 Jan 2024 10:00:00 +0000",
        ]
    )
    assert chain.hops[1].time is None and chain.hops[1].delay_seconds is None
    assert chain.hops[2].delay_seconds == 120.0 and chain.hops[2].previous_index == 1


def test_duplicates_dropped_and_counted() -> None:
    dup = "from example.com by example.org; Mon, 26 Mar 2018 13:35:36 +0000"
    chain = analyze_chain(["from another.com by another.org; Tue, 27 Mar 2018 14:35:36 +0000", dup, dup, dup])
    assert len(chain.hops) == 2
    assert chain.dropped_duplicates == 2 and chain.hops[0].duplicates == 2


def test_sender_clock_against_first_hop() -> None:
    chain = analyze_chain(CHAIN, "Mon, 1 Jan 2024 10:05:00 +0000")
    assert chain.sender_clock is not None
    assert chain.sender_clock.seconds_to_first_hop == -300.0  # the client clock is 5 min ahead


def test_sender_late_finding() -> None:
    text = "".join(f"Received: {h}\n" for h in CHAIN) + "Date: Mon, 1 Jan 2024 08:00:00 +0000\n\n"
    report = analyze_headers(parse_header_text(text))
    ids = {f.id for f in report.findings}
    assert "headers.sender_late" in ids and "headers.slow_hop" in ids
    slow = next(f for f in report.findings if f.id == "headers.slow_hop")
    assert "relay.example.net -> mx.example.org" in slow.title


def test_no_received() -> None:
    report = analyze_headers(parse_header_text("From: a@example.com\nSubject: hi\n\nbody\n"))
    assert [f.id for f in report.findings] == ["headers.no_received"]
    assert report.to_json()["hops"] == [] and report.to_json()["total_seconds"] is None
