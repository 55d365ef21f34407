"""Order the Received headers into hops and time them.

Headers are written newest first; hop 1 is the oldest (the first server that took the message).
The delay of a hop is its stamp minus the previous stamped hop's: the time the message spent on
the previous server (its queue) and on the wire. A negative delay is clock skew between the two
servers: it is reported with both clocks and never counted (nor wrapped into a huge number).
The share of a hop is its delay over the sum of positive delays, as Microsoft's MHA shows it;
the total is the last stamp minus the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from maildoctor.headers.dates import ParsedDate, parse_date
from maildoctor.headers.received import Received, parse_received, unfold

MAX_HOPS = 500


@dataclass(frozen=True, slots=True)
class Hop:
    index: int  # 1 = oldest
    received: Received
    time: ParsedDate | None
    delay_seconds: float | None  # None for the first stamped hop and for undated hops
    skew: bool  # the stamp is earlier than the previous hop's: one of the two clocks is wrong
    share_percent: float  # share of the summed positive delays (0 for skew and unknown)
    previous_index: int | None  # the stamped hop the delay is measured from
    duplicates: int = 0  # identical copies of this header that were dropped

    def to_json(self) -> dict[str, object]:
        r = self.received
        return {
            "index": self.index,
            "from": r.from_,
            "by": r.by,
            "with": r.with_,
            "id": r.id,
            "for": r.for_,
            "via": r.via,
            "ip": r.ip,
            "by_ip": r.by_ip,
            "helo": r.helo,
            "rdns": r.rdns,
            "by_host": r.by_host,
            "mta": r.mta,
            "tls": r.tls,
            "tls_version": r.tls_version,
            "tls_cipher": r.tls_cipher,
            "authenticated": r.authenticated,
            "auth_user": r.auth_user,
            "envelope_from": r.envelope_from,
            "time": self.time.utc.isoformat() if self.time else None,
            "time_local": self.time.local.isoformat() if self.time else None,
            "zone_assumed": self.time.zone_assumed if self.time else None,
            "delay_seconds": self.delay_seconds,
            "share_percent": round(self.share_percent, 3),
            "skew": self.skew,
            "duplicates": self.duplicates,
            "problems": list(r.problems),
            "raw": r.raw,
        }


@dataclass(frozen=True, slots=True)
class SenderClock:
    """The Date header (the sender's clock) against the first stamped hop."""

    date: ParsedDate
    first_hop_time: ParsedDate
    seconds_to_first_hop: float  # negative: the client's clock is ahead of the first server's


@dataclass(frozen=True, slots=True)
class Chain:
    hops: tuple[Hop, ...]
    total_seconds: float | None
    slowest: Hop | None
    sender_clock: SenderClock | None
    dropped_duplicates: int
    truncated: bool

    @property
    def skewed(self) -> list[Hop]:
        return [h for h in self.hops if h.skew]


def dedupe(values: list[str]) -> tuple[list[str], list[int]]:
    """Drop exact repeats of a Received header (a relay that re-adds it, a paste done twice).

    Returns the kept values and, per kept value, how many copies were dropped.
    """
    kept: list[str] = []
    counts: list[int] = []
    seen: dict[str, int] = {}
    for v in values:
        key = unfold(v).lower()
        if key in seen:
            counts[seen[key]] += 1
            continue
        seen[key] = len(kept)
        kept.append(v)
        counts.append(0)
    return kept, counts


def analyze_chain(received_values: list[str], date_header: str | None = None) -> Chain:
    """Hops (oldest first) with delays, skew, shares, total and the slowest hop."""
    truncated = len(received_values) > MAX_HOPS
    values, dup_counts = dedupe(received_values[:MAX_HOPS])
    parsed = [parse_received(v) for v in values]
    # message order is newest first; hop 1 is the last header
    order = list(range(len(parsed) - 1, -1, -1))
    raw_hops: list[tuple[Received, float | None, bool, int | None, int]] = []
    prev_time: ParsedDate | None = None
    prev_index: int | None = None
    for hop_no, i in enumerate(order, 1):
        rec = parsed[i]
        delay: float | None = None
        ref: int | None = None
        if rec.date is not None and prev_time is not None:
            delay = (rec.date.utc - prev_time.utc).total_seconds()
            ref = prev_index
        raw_hops.append((rec, delay, delay is not None and delay < 0, ref, dup_counts[i]))
        if rec.date is not None:
            prev_time, prev_index = rec.date, hop_no
    positive = sum(d for _, d, _, _, _ in raw_hops if d is not None and d > 0)
    hops = tuple(
        Hop(
            index=n,
            received=rec,
            time=rec.date,
            delay_seconds=delay,
            skew=skew,
            share_percent=(100.0 * delay / positive) if delay is not None and delay > 0 and positive else 0.0,
            previous_index=ref,
            duplicates=dups,
        )
        for n, (rec, delay, skew, ref, dups) in enumerate(raw_hops, 1)
    )
    times = [h.time for h in hops if h.time is not None]
    total = (times[-1].utc - times[0].utc).total_seconds() if len(times) >= 2 else None
    slowest = max(
        (h for h in hops if h.delay_seconds is not None and h.delay_seconds > 0),
        key=lambda h: h.delay_seconds or 0.0,
        default=None,
    )
    sender_clock = None
    sent = parse_date(date_header) if date_header else None
    if sent is not None and times:
        sender_clock = SenderClock(sent, times[0], (times[0].utc - sent.utc).total_seconds())
    return Chain(hops, total, slowest, sender_clock, sum(dup_counts), truncated)
