"""Tolerant date parsing: the real-world forms found in Received and Date headers."""

from __future__ import annotations

import datetime as dt

import pytest

from maildoctor.headers.dates import format_seconds, parse_date


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "text, expected, assumed",
    [
        ("Sat, 21 Apr 2018 03:01:01 +0000", _utc(2018, 4, 21, 3, 1, 1), False),
        ("Saturday, 21 Apr 2018 03:01:02 +0000", _utc(2018, 4, 21, 3, 1, 2), False),
        ("Apr 21 2018 3:01:05 +0000", _utc(2018, 4, 21, 3, 1, 5), False),
        # MHA upstream h6_1 and h6_2 (the corpus table lost these two strings)
        ("4/20/2018 11:01:16 PM -0400 (EDT)", _utc(2018, 4, 21, 3, 1, 16), False),
        ("4/20/2018 11:01:26 PM +0000", _utc(2018, 4, 20, 23, 1, 26), False),
        ("4/20/2018 11:01:36 PM", _utc(2018, 4, 20, 23, 1, 36), True),
        # missing seconds, named zones, two-digit years, comments, no zone
        ("Wed, 08 Mar 2017 11:46 -0500", _utc(2017, 3, 8, 16, 46, 0), False),
        ("Thu, 21 Aug 2014 12:12:48 CEST", _utc(2014, 8, 21, 10, 12, 48), False),
        ("Mon, 15 Jan 2024 08:30:00 PST", _utc(2024, 1, 15, 16, 30, 0), False),
        ("Mon, 1 Jan 24 12:00:00 +0000", _utc(2024, 1, 1, 12, 0, 0), False),
        ("Fri, 1 Jan 99 12:00:00 GMT", _utc(1999, 1, 1, 12, 0, 0), False),
        ("Mon, 26 Mar 2018 13:35:09 +0000 (UTC)", _utc(2018, 3, 26, 13, 35, 9), False),
        ("(a comment) Mon, 26 Mar 2018 13:35:09 (another) +0000", _utc(2018, 3, 26, 13, 35, 9), False),
        ("Mon, 26 Mar 2018 13:35:09", _utc(2018, 3, 26, 13, 35, 9), True),
        ("Mon, 26 Mar 2018 13:35:09 XYZT", _utc(2018, 3, 26, 13, 35, 9), True),  # unknown zone name
        ("Tue, 7 Mar 2017 14:29:24 -0800", _utc(2017, 3, 7, 22, 29, 24), False),
        ("2024-03-15 10:30:00.123456789 +0000 UTC m=+12345.678901234", _utc(2024, 3, 15, 10, 30, 0, 123000), False),
        ("2024-01-05T10:00:00Z", _utc(2024, 1, 5, 10, 0, 0), False),
        ("Tue, 10 Oct 2023 10:00:00 +05:30", _utc(2023, 10, 10, 4, 30, 0), False),
        ("Sun, 31 Dec 2016 23:59:60 +0000", _utc(2016, 12, 31, 23, 59, 59), False),  # leap second
        ("Mon Jan 15 08:30:00 2024", _utc(2024, 1, 15, 8, 30, 0), True),  # ctime
    ],
)
def test_forms(text: str, expected: dt.datetime, assumed: bool) -> None:
    parsed = parse_date(text)
    assert parsed is not None, text
    assert parsed.utc == expected
    assert parsed.zone_assumed is assumed


def test_local_clock_is_kept() -> None:
    parsed = parse_date("Fri, 20 Apr 2018 17:51:19 -0400")
    assert parsed is not None
    assert parsed.local.isoformat() == "2018-04-20T17:51:19-04:00"


def test_bare_date_is_midnight_and_can_be_refused() -> None:
    parsed = parse_date("22 Apr 2018")
    assert parsed is not None and parsed.utc == _utc(2018, 4, 22) and not parsed.has_time
    assert parse_date("22 Apr 2018", require_time=True) is None


@pytest.mark.parametrize("text", ["", "garbage", "32 Apr 2018 10:00:00", "Mon, 1 Foo 2024 10:00:00", "99:99"])
def test_not_dates(text: str) -> None:
    assert parse_date(text) is None


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (0, 41.9, -28, 313, 18614, 200000)] == [
        "0 s",
        "41 s",
        "-28 s",
        "5 min 13 s",
        "5 h 10 min",
        "2 d 7 h",
    ]
