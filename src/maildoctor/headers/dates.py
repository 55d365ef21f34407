"""Tolerant date parsing for Received and Date headers.

Real headers carry RFC 5322 dates and much else: missing seconds, fractional seconds, named zones,
no zone at all, two-digit years, US numeric dates, Go's ``2018-03-26 13:35:36.27 +0000 UTC`` and
comments in between. `parse_date` tries our tolerant grammar first (it keeps milliseconds and
knows whether a zone was given), then ``email.utils`` as a second layer. A date without a zone is
taken as UTC and flagged, so a caller can say the hop time is uncertain.

Every regular expression here is bounded (no nested quantifiers), so hostile text is linear.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass
from functools import cache

from maildoctor import kb

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_DATE_TEXT = 300  # a date is short; longer text is trimmed before any regex runs

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for m in names
}
_MON = r"(?P<mon>[A-Za-z]{3,9})\.?"
_TIME = (
    r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
    r"(?:\s{0,3}(?P<ampm>[AaPp]\.?[Mm]\.?)(?![A-Za-z]))?"
)
_ZONE = r"(?:\s{0,3}(?P<zone>[+-]\d{2}:?\d{2}|[+-]\d{1,2}(?![\d:])|[A-Za-z]{1,5}(?![A-Za-z])))?"
_SEP = r"[\s,]{1,4}"

_PATTERNS = [
    # ISO-like, Go's time.String(): 2018-04-22 02:54:17.028704749 +0000 UTC, 2024-01-05T10:00:00Z
    re.compile(r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:[T\s]{1,3}" + _TIME + _ZONE + r")?"),
    # US numeric: 4/20/2018 23:01:06 -0400, 4-20-2018 11:01:07 PM
    re.compile(r"(?P<mo>\d{1,2})[/-](?P<d>\d{1,2})[/-](?P<y>\d{4})(?:[\s,]{1,4}" + _TIME + _ZONE + r")?"),
    # RFC 5322 order: [Sat,] 21 Apr 2018 03:01:01 +0000
    re.compile(r"(?P<d>\d{1,2})[\s-]{1,3}" + _MON + r"[\s-]{1,3}(?P<y>\d{2,4})(?:" + _SEP + _TIME + _ZONE + r")?"),
    # month first: Apr 21 2018 03:01:04 +0000, and ctime: Apr 21 03:01:04 2018
    re.compile(r"" + _MON + r"\s{1,3}(?P<d>\d{1,2}),?\s{1,3}(?P<y>\d{4})(?:" + _SEP + _TIME + _ZONE + r")?"),
    re.compile(r"" + _MON + r"\s{1,3}(?P<d>\d{1,2})\s{1,3}" + _TIME + r"\s{1,3}(?P<y>\d{4})" + _ZONE),
]
_COMMENT = re.compile(r"\([^()]{0,200}\)")
_GO_MONOTONIC = re.compile(r"\bm=[+-][\d.]{1,30}")


@dataclass(frozen=True, slots=True)
class ParsedDate:
    """An instant in UTC plus how much of it the header actually said."""

    utc: dt.datetime  # aware, UTC
    offset_minutes: int | None  # the writer's UTC offset; None when the text had no zone
    zone_assumed: bool  # no zone in the text: read as UTC
    has_time: bool  # False for a bare date (midnight assumed)
    text: str  # the text that was parsed

    @property
    def local(self) -> dt.datetime:
        """The time as the writer's clock showed it (UTC when unknown)."""
        if self.offset_minutes is None:
            return self.utc
        return self.utc.astimezone(dt.timezone(dt.timedelta(minutes=self.offset_minutes)))

    @property
    def epoch_ms(self) -> int:
        return (self.utc - _EPOCH) // dt.timedelta(milliseconds=1)


@cache
def _named_zones() -> dict[str, int]:
    """Zone abbreviations and their offsets in minutes, from kb/headers.toml."""
    zones: dict[str, int] = {}
    for entry in kb.load("headers"):
        if entry.get("kind") == "zone":
            zones[str(entry["name"]).upper()] = int(entry["offset_minutes"])
    return zones


def _zone_minutes(zone: str) -> int | None:
    """Minutes east of UTC for a numeric or named zone, or None when unknown."""
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        if len(digits) <= 2:
            hours, minutes = int(digits), 0
        else:
            hours, minutes = int(digits[:-2]), int(digits[-2:])
        if hours > 14 or minutes > 59:
            return None
        value = hours * 60 + minutes
        return -value if zone[0] == "-" else value
    return _named_zones().get(zone.upper())


def _year(raw: str) -> int:
    year = int(raw)
    if len(raw) == 2:  # RFC 5322 4.3: 00-49 is 20xx, 50-99 is 19xx
        return year + (2000 if year < 50 else 1900)
    if len(raw) == 3:
        return year + 1900
    return year


def _from_match(m: re.Match[str], text: str) -> ParsedDate | None:
    g = m.groupdict()
    if "mon" in g and g["mon"] is not None:
        month = _MONTHS.get(g["mon"].lower())
        if month is None:
            return None
    else:
        month = int(g["mo"])
    try:
        year, day = _year(g["y"]), int(g["d"])
        hour = int(g["h"]) if g.get("h") else 0
        minute = int(g["mi"]) if g.get("mi") else 0
        second = int(g["s"]) if g.get("s") else 0
        micro = int((g.get("frac") or "0")[:3].ljust(3, "0")) * 1000  # ms: finer is noise for mail
        ampm = (g.get("ampm") or "").lower()
        if ampm and hour <= 12:
            hour = hour % 12 + (12 if ampm.startswith("p") else 0)
        if second == 60:  # a leap second: the clock said :60, keep it in range
            second = 59
        naive = dt.datetime(year, month, day, hour, minute, second, micro)
    except (ValueError, OverflowError):
        return None
    zone = g.get("zone")
    offset = _zone_minutes(zone) if zone else None
    if zone and offset is None and zone.upper() not in ("AM", "PM"):
        offset = None  # unknown abbreviation: treated like no zone
    assumed = offset is None
    utc = (naive - dt.timedelta(minutes=offset or 0)).replace(tzinfo=UTC)
    return ParsedDate(utc, offset, assumed, bool(g.get("h")), text)


def _clean(text: str) -> str:
    text = text[:_MAX_DATE_TEXT]
    for _ in range(3):  # comments nest a little: (a (b) c)
        text = _COMMENT.sub(" ", text)
    text = _GO_MONOTONIC.sub(" ", text)
    return " ".join(text.split())


def parse_date(text: str | None, require_time: bool = False) -> ParsedDate | None:
    """Parse a header date; None when the text holds no recognisable date.

    With `require_time`, a bare date (no time of day) is not accepted: used when searching for a
    date in Received text that has no ``;`` separator.
    """
    if not text:
        return None
    cleaned = _clean(text)
    best: ParsedDate | None = None
    best_pos = -1
    for pat in _PATTERNS:
        for m in pat.finditer(cleaned):
            parsed = _from_match(m, cleaned)
            if parsed is None or (require_time and not parsed.has_time):
                continue
            # prefer the most complete date, then the latest one in the text (the real date
            # comes last; an id like 2024.01.15 or a version earlier in the text must not win)
            if (
                best is None
                or (parsed.has_time and not best.has_time)
                or (parsed.has_time == best.has_time and m.start() > best_pos)
            ):
                best, best_pos = parsed, m.start()
    if best is not None:
        return best
    return _parse_stdlib(cleaned, require_time)


def _parse_stdlib(cleaned: str, require_time: bool) -> ParsedDate | None:
    """The email.utils layer: RFC 5322 forms our grammar did not catch."""
    try:
        parts = email.utils.parsedate_tz(cleaned)
    except (ValueError, IndexError, TypeError):
        return None
    if parts is None:
        return None
    try:
        naive = dt.datetime(*parts[:6])
    except (ValueError, OverflowError):
        return None
    has_time = any(parts[3:6])
    if require_time and not has_time:
        return None
    offset_s = parts[9]
    offset = None if offset_s is None else offset_s // 60
    utc = (naive - dt.timedelta(minutes=offset or 0)).replace(tzinfo=UTC)
    return ParsedDate(utc, offset, offset is None, has_time, cleaned)


def format_seconds(seconds: float) -> str:
    """Human text for a duration: 0 s, 41 s, 5 min 13 s, 3 h 10 min, 2 d 4 h; sign kept."""
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    if total < 60:
        return f"{sign}{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{sign}{minutes} min {secs} s" if secs else f"{sign}{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
    days, hours = divmod(hours, 24)
    return f"{sign}{days} d {hours} h" if hours else f"{sign}{days} d"


def find_trailing_date(text: str) -> int | None:
    """Start index of a date with a time of day that ends the text (for Received with no ';').

    Only a little text may follow it (a zone name, Go's ``m=+1.2``), so a date-like id earlier
    in the header is never taken for the date. A weekday just before the date is included.
    """
    limit = _MAX_DATE_TEXT * 4
    offset = max(0, len(text) - limit)
    text = text[offset:]
    best: int | None = None
    for pat in _PATTERNS:
        for m in pat.finditer(text):
            if not m.group("h"):
                continue
            rest = _GO_MONOTONIC.sub("", text[m.end() :]).split()
            if len(rest) > 2 or any(len(w) > 6 for w in rest):
                continue
            if _from_match(m, text) is not None and (best is None or m.start() < best):
                best = m.start()
    if best is None:
        return None
    day = _WEEKDAY_BEFORE.search(text[max(0, best - 16) : best])
    if day:
        best -= len(day.group(0))
    return best + offset


_WEEKDAY_BEFORE = re.compile(r"\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]{0,6},?\s{1,3}$", re.IGNORECASE)
