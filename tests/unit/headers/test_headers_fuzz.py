"""Fuzzing the header code with hypothesis: arbitrary and header-shaped text never crashes it.

No timing assertion: a hang would stop the test run. The pathological inputs (deep nesting,
unclosed brackets, long runs) are given as explicit examples because random text rarely
builds them.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from maildoctor.headers.analyze import analyze_headers
from maildoctor.headers.auth import analyze_auth, parse_authentication_results
from maildoctor.headers.dates import parse_date
from maildoctor.headers.message import parse_header_text
from maildoctor.headers.received import parse_received

FRAGMENTS = st.sampled_from(
    [
        "from",
        "by",
        "with",
        "id",
        "for",
        "via",
        "From",
        "BY",
        " ",
        "\n ",
        "\n\t",
        "\n",
        ";",
        "(",
        ")",
        "[",
        "]",
        "<",
        ">",
        "helo=",
        "HELO",
        "mx.example.org",
        "[192.0.2.1]",
        "2001:db8::1",
        "ESMTPS",
        "esmtpa",
        "(Exim 4.96)",
        "(Postfix)",
        "version=TLS1_2",
        "cipher=",
        "Mon, 1 Jan 2024 10:00:00 +0000",
        "2024-01-01 10:00:00.123 +0000 UTC",
        "4/20/2018 11:01:07 PM",
        "31 Feb 2024",
        "+9999",
        "-0000",
        "EST",
        "99:99:99",
        "Received:",
        "Date:",
        "Authentication-Results:",
        "spf=pass",
        "dkim=",
        "\x00",
        "\u00e9",
    ]
)
HEADERISH = st.lists(FRAGMENTS, max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=2000), HEADERISH))
@example("from " + "(" * 20000)
@example("(" * 10000 + ")" * 10000 + "; Mon, 1 Jan 2024 10:00:00 +0000")
@example(";" * 20000)
@example("a:" * 10000)
@example("by x " * 4000 + "1 Jan 2024 10:00:00 " * 500)
def test_parse_received_never_raises(text: str) -> None:
    rec = parse_received(text)
    assert rec.raw is not None
    if rec.date is not None:
        assert rec.date.utc.tzinfo is not None


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=400), HEADERISH))
def test_parse_date_never_raises(text: str) -> None:
    parsed = parse_date(text)
    if parsed is not None:
        assert 1 <= parsed.utc.year <= 9999


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=4000), HEADERISH.map(str.encode)))
@example(b"Received: " + b"(" * 50000 + b"\n\n")
@example(b"".join(b"Received: from a by b; Mon, 1 Jan 2024 10:%02d:00 +0000\n" % (i % 60) for i in range(2000)))
@example(b"Content-Type: multipart/report; boundary=x\nFrom: MAILER-DAEMON\n\n--x\nContent-Type: message/rfc822\n\n")
def test_whole_analysis_never_raises(data: bytes) -> None:
    report = analyze_headers(parse_header_text(data))
    doc = report.to_json()
    assert isinstance(doc["hops"], list)
    for hop in report.chain.hops:
        # a negative delay is skew, never a wrapped huge positive number
        assert hop.delay_seconds is None or hop.skew == (hop.delay_seconds < 0)
        assert 0.0 <= hop.share_percent <= 100.0


@settings(max_examples=200, deadline=None)
@given(HEADERISH)
def test_auth_never_raises(text: str) -> None:
    parse_authentication_results(text)
    analyze_auth(
        [
            ("Authentication-Results", text),
            ("ARC-Seal", text),
            ("Received-SPF", text),
            ("DKIM-Signature", text),
            ("X-Spam-Status", text),
        ]
    )
