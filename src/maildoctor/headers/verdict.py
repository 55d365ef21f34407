"""Join the header chain with what our own log says, and place the delay.

Our hop is the Received header our server wrote: its ``id`` is the Exim message id or the
Postfix queue id under which the local log knows the message. The log engine's trace gives the
story (arrival, deferrals with the remote answers, delivery, queue time); the verdict then
splits the total time into before us, on our server, and after us.

Log times are the server's local time without a zone; the offset our server wrote in its own
Received header says which zone that is, so both clocks are compared in UTC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maildoctor.headers.dates import format_seconds
from maildoctor.headers.hops import Chain, Hop

if TYPE_CHECKING:
    from maildoctor.logs.events import LogEvent
    from maildoctor.logs.story import MessageStory

SIGNIFICANT_SECONDS = 120  # below this a part of the trip is not "where the delay was"


@dataclass(frozen=True, slots=True)
class Deferral:
    time: dt.datetime | None  # UTC when the zone is known, else as logged
    recipient: str | None
    host: str | None
    answer: str
    source: str
    line: int
    raw: str = ""  # the whole log line


@dataclass
class LocalJoin:
    """What our log says about this message."""

    matched_by: str  # "exim id ..." | "postfix id ..." | "message-id ..."
    hop_index: int | None  # our newest hop in the chain (None when found only by Message-ID)
    story: MessageStory  # the story of that hop's id (the one that delivered onwards)
    arrival: dt.datetime | None  # UTC when the zone is known
    finished: dt.datetime | None
    queue_seconds: float | None
    first_hop_index: int | None = None  # our oldest hop: differs when a content filter re-queued it
    stories: list[MessageStory] = field(default_factory=list)  # every id of ours, newest first
    deferrals: list[Deferral] = field(default_factory=list)
    retries_skipped: int = 0
    zone_known: bool = False
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "matched_by": self.matched_by,
            "hop_index": self.hop_index,
            "first_hop_index": self.first_hop_index,
            "message": self.story.id,
            "messages": [st.id for st in self.stories],
            "arrival": self.arrival.isoformat() if self.arrival else None,
            "finished": self.finished.isoformat() if self.finished else None,
            "queue_seconds": self.queue_seconds,
            "final_status": self.story.final_status,
            "deferrals": [
                {
                    "time": d.time.isoformat() if d.time else None,
                    "recipient": d.recipient,
                    "host": d.host,
                    "answer": d.answer,
                    "source": d.source,
                    "line": d.line,
                }
                for d in self.deferrals
            ],
            "retries_skipped": self.retries_skipped,
            "zone_known": self.zone_known,
            "files": self.files,
            "story": self.story.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    where: str  # before_us | on_our_server | after_us | none | unknown
    summary: str
    before_seconds: float | None = None
    here_seconds: float | None = None
    after_seconds: float | None = None
    reasons: tuple[str, ...] = ()  # what our log says held the message
    fixes: tuple[str, ...] = ()  # what the knowledge base says to do about those answers

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "summary": self.summary,
            "before_us_seconds": self.before_seconds,
            "on_our_server_seconds": self.here_seconds,
            "after_us_seconds": self.after_seconds,
            "reasons": list(self.reasons),
            "fixes": list(self.fixes),
        }


def _id_kind(value: str) -> str | None:
    from maildoctor.logs import exim, postfix

    if exim.is_message_id(value):
        return "exim"
    if postfix.is_queue_id(value):
        return "postfix"
    return None


def candidate_ids(chain: Chain) -> list[tuple[int, str, str]]:
    """(hop index, kind, id) for hops whose id looks like an Exim or Postfix id, newest first."""
    out = []
    for hop in reversed(chain.hops):
        raw = (hop.received.id or "").split(";")[0].strip()
        kind = _id_kind(raw) if raw else None
        if kind:
            out.append((hop.index, kind, raw))
    return out


def _to_utc(t: dt.datetime | None, offset_minutes: int | None) -> dt.datetime | None:
    if t is None:
        return None
    if t.tzinfo is not None:
        return t.astimezone(dt.UTC)
    if offset_minutes is None:
        return t  # zone unknown: kept naive, compared as if UTC (flagged by zone_known=False)
    return (t - dt.timedelta(minutes=offset_minutes)).replace(tzinfo=dt.UTC)


def _align_year(t: dt.datetime | None, ref: dt.datetime | None) -> dt.datetime | None:
    """Classic syslog lines carry no year, so the log reader guesses it from the file date. When
    that puts the log months away from our own Received stamp, take the year our stamp gives."""
    if t is None or ref is None:
        return t
    cmp_ref = ref if t.tzinfo is not None else ref.replace(tzinfo=None)
    if abs((t - cmp_ref).total_seconds()) < 180 * 86400:
        return t
    best = t
    for year in (cmp_ref.year - 1, cmp_ref.year, cmp_ref.year + 1):
        try:
            cand = t.replace(year=year)
        except ValueError:  # 29 February
            continue
        if abs((cand - cmp_ref).total_seconds()) < abs((best - cmp_ref).total_seconds()):
            best = cand
    return best


def _deferrals(events: Sequence[LogEvent], offset: int | None) -> tuple[list[Deferral], int]:
    from maildoctor.logs.events import EventKind

    out, skipped = [], 0
    for e in events:
        if e.kind is EventKind.DEFERRAL:
            out.append(
                Deferral(
                    _to_utc(e.time, offset),
                    e.original_recipient or e.recipient,
                    e.remote_host or e.remote_ip,
                    e.diagnostic or e.raw,
                    e.source,
                    e.line_no,
                    e.raw,
                )
            )
        elif e.kind is EventKind.RETRY_NOT_REACHED:
            skipped += 1
    return out, skipped


def _find_by_ids(
    chain: Chain, paths: Sequence[Path | str]
) -> tuple[list[tuple[int, str, MessageStory]], list[str], list[str]]:
    """Our hops, newest first, as (hop index, "kind id", story), plus log problems and files.

    After the newest hop found in our log, older hops written by the same host are looked up
    too: a content filter (amavis, a milter re-queue) gives one message two ids on one server.
    """
    from maildoctor.logs.trace import trace

    found: list[tuple[int, str, MessageStory]] = []
    problems: list[str] = []
    files: list[str] = []
    our_host: str | None = None
    for hop_index, kind, value in candidate_ids(chain):
        host = (chain.hops[hop_index - 1].received.by_host or "").lower()
        if found and host != our_host:
            continue
        result = trace(value, paths)
        problems, files = result.problems.lines(), result.files
        story = result.by_id(value)
        if story is not None:
            found.append((hop_index, f"{kind} id {value}", story))
            our_host = host if our_host is None else our_host
    return found, problems, files


def read_local(chain: Chain, message_id: str | None, paths: Sequence[Path | str]) -> tuple[LocalJoin | None, list[str]]:
    """Find this message in the local logs: by our hop's Exim/Postfix id, else by Message-ID.

    Returns the join (None when the message is not there) and one line per unreadable log.
    """
    from maildoctor.logs.trace import trace

    found, problems, files = _find_by_ids(chain, paths)
    matched: list[tuple[int | None, str, MessageStory]] = [(i, m, st) for i, m, st in found]
    if not matched and message_id:
        mid = message_id.strip()
        if not mid.startswith("<"):
            mid = f"<{mid}>"
        result = trace(mid, paths)
        problems, files = result.problems.lines(), result.files
        arrivals = [m for m in result.messages if not m.is_bounce and not m.is_delay_warning]
        if arrivals:
            story = arrivals[-1]  # the last id is the one that delivered onwards
            hop = next((h.index for h in chain.hops if (h.received.id or "").strip() == story.id), None)
            matched = [(hop, f"message-id {mid}", story)]
    if not matched:
        return None, problems
    newest_index, _, newest = matched[0]
    oldest_index, _, oldest = matched[-1]
    our_hop = chain.hops[newest_index - 1] if newest_index else None
    offset = our_hop.time.offset_minutes if our_hop and our_hop.time else None
    ref = our_hop.time.utc if our_hop and our_hop.time else None
    deferrals: list[Deferral] = []
    skipped = 0
    for _, _, st in reversed(matched):
        more, n = _deferrals(st.evidence, offset)
        deferrals += [dataclasses.replace(d, time=_align_year(d.time, ref)) for d in more]
        skipped += n
    arrival = _align_year(_to_utc(oldest.received_at, offset), ref)
    finished = _align_year(_to_utc(newest.completed_at or newest.last_seen, offset), ref)
    queue = newest.queue_seconds
    if len(matched) > 1 and arrival is not None and finished is not None:
        queue = max(0.0, (finished - arrival).total_seconds())
    join = LocalJoin(
        matched_by=" + ".join(m for _, m, _ in reversed(matched)),
        hop_index=newest_index,
        story=newest,
        arrival=arrival,
        finished=finished,
        queue_seconds=queue,
        first_hop_index=oldest_index,
        stories=[st for _, _, st in matched],
        deferrals=deferrals,
        retries_skipped=skipped,
        zone_known=offset is not None,
        files=list(files),
    )
    return join, problems


def _advice(answer: str) -> str | None:
    """Delay-specific advice from kb/headers.toml, else the log engine's meaning of the answer."""
    from maildoctor import kb
    from maildoctor.logs.explain import explain_response

    for entry in kb.load("headers"):
        if entry.get("kind") == "delay_advice" and entry.search(answer):
            return str(entry["advice"])
    meaning = explain_response(answer)
    if meaning is None:
        return None
    return f"{meaning['meaning']} {meaning['action']}".strip() or None


def _reasons(local: LocalJoin) -> tuple[list[str], list[str]]:
    """Distinct deferral answers with their count, the gaps between attempts (our retry
    schedule), and the advice for each answer."""
    counts: dict[tuple[str, str | None], int] = {}
    for d in local.deferrals:
        counts[(d.answer, d.host)] = counts.get((d.answer, d.host), 0) + 1
    reasons: list[str] = []
    fixes: list[str] = []
    for (answer, host), n in counts.items():
        reasons.append(f"deferred {n} time(s)" + (f" by {host}" if host else "") + f": {answer}")
        advice = _advice(answer)
        if advice and advice not in fixes:
            fixes.append(advice)
    times = [d.time for d in local.deferrals if d.time is not None]
    if local.finished is not None and times and local.story.final_status == "delivered":
        times.append(local.finished)
    if len(times) >= 2:
        gaps = [format_seconds((b - a).total_seconds()) for a, b in itertools.pairwise(times)]
        reasons.append("time between attempts (our retry schedule): " + ", ".join(gaps))
    reasons += _postfix_delays(local)
    if len(local.stories) > 1:
        reasons.append(
            "the message went through a content filter on our server and was queued again: "
            + " -> ".join(st.id for st in reversed(local.stories))
        )
    return reasons, fixes


_DELAY_PARTS = ("before the queue manager", "in the queue (waiting for a delivery slot)", "connecting", "transmitting")


def _postfix_delays(local: LocalJoin) -> list[str]:
    """Postfix's delays=a/b/c/d on delivery lines: which part of our handling took the time."""
    from maildoctor.logs.events import EventKind

    out = []
    for st in reversed(local.stories or [local.story]):
        for e in st.evidence:
            if e.kind is not EventKind.DELIVERY or not e.delays:
                continue
            try:
                parts = [float(x) for x in e.delays.split("/")]
            except ValueError:
                continue
            if len(parts) != 4 or max(parts) < SIGNIFICANT_SECONDS:
                continue
            worst = max(range(4), key=lambda i: parts[i])
            to = f" to {e.remote_host or e.remote_ip}" if (e.remote_host or e.remote_ip) else ""
            out.append(
                f"{st.id}: delivery{to} took {format_seconds(sum(parts))}, mostly {_DELAY_PARTS[worst]} "
                f"(Postfix delays={e.delays})"
            )
    return out


def _hop_name(hop: Hop) -> str:
    r = hop.received
    return r.by_host or r.by or "?"


def _headers_only(chain: Chain) -> Verdict:
    slow = chain.slowest
    if slow is None or (slow.delay_seconds or 0) < SIGNIFICANT_SECONDS:
        total = f" in {format_seconds(chain.total_seconds)}" if chain.total_seconds is not None else ""
        return Verdict("none", f"No significant delay: delivered{total} across {len(chain.hops)} hops.")
    prev = chain.hops[slow.previous_index - 1] if slow.previous_index else None
    holder = _hop_name(prev) if prev else (slow.received.from_host or "the previous server")
    assert slow.delay_seconds is not None
    return Verdict(
        "unknown",
        f"The slowest hop is hop {slow.index}: {format_seconds(slow.delay_seconds)} "
        f"({slow.share_percent:.0f}% of the delays) between {holder} and {_hop_name(slow)}. "
        f"The message waited in the queue of {holder} (or could not reach {_hop_name(slow)}); "
        f"its log says why. Give --log or --root to check our own server.",
    )


def decide(chain: Chain, local: LocalJoin | None) -> Verdict:
    """Where the delay was: before reaching us, on our server (and why), or after us."""
    if local is None:
        return _headers_only(chain)
    verdict = _decide_joined(chain, local)
    outcome = _undelivered(local)
    if outcome:
        return dataclasses.replace(verdict, summary=f"{verdict.summary} {outcome}")
    return verdict


def _undelivered(local: LocalJoin) -> str:
    """A sentence when our server has not (fully) delivered the message; '' when it has."""
    story = local.story
    if story.final_status in ("delivered", "completed", "unknown"):
        return ""
    lines = []
    for r in story.recipients:
        if r.status in ("failed", "deferred", "pending"):
            answer = f": {r.last_response}" if r.last_response else ""
            lines.append(f"{r.address} {r.status}{answer}")
    detail = "; ".join(lines[:3])
    hint = " (maildoctor bounce FILE explains a bounce)" if story.final_status in ("failed", "partial") else ""
    return f"Our server has not delivered it ({story.final_status}){': ' + detail if detail else ''}.{hint}"


def _decide_joined(chain: Chain, local: LocalJoin) -> Verdict:
    stamped = [h for h in chain.hops if h.time is not None]
    our = chain.hops[local.hop_index - 1] if local.hop_index else None
    our_first = chain.hops[local.first_hop_index - 1] if local.first_hop_index else our
    first = stamped[0].time if stamped else None
    last = stamped[-1].time if stamped else None
    here = local.queue_seconds
    if here is None and local.arrival and local.finished:
        here = max(0.0, (local.finished - local.arrival).total_seconds())
    before = after = None
    if our is not None and our_first is not None and our_first.time is not None and first is not None:
        before = (our_first.time.utc - first.utc).total_seconds()
        if our_first is stamped[0] and chain.sender_clock is not None:
            before = max(0.0, (our_first.time.utc - chain.sender_clock.date.utc).total_seconds())
        if last is not None and our.index < stamped[-1].index:
            after = max(0.0, (last.utc - our_first.time.utc).total_seconds() - (here or 0.0))
    reasons, fixes = _reasons(local)
    if local.retries_skipped:
        reasons.append(f"{local.retries_skipped} queue runs skipped it: retry time not reached")
    if local.story.frozen:
        reasons.append("the message is frozen")
    parts = {"before_us": before, "on_our_server": here, "after_us": after}
    known = {k: v for k, v in parts.items() if v is not None}
    if not known:
        return Verdict(
            "unknown", "Found in our log but the times could not be compared.", before, here, after, tuple(reasons)
        )
    where, worst = max(known.items(), key=lambda kv: kv[1])
    if worst < SIGNIFICANT_SECONDS and not local.deferrals:
        headers_only = _headers_only(chain)
        if our is None and headers_only.where != "none":
            # our hop is not known (found by Message-ID): we were quick, the headers say where it was slow
            return Verdict(
                "unknown",
                f"Our server handled it in {format_seconds(here or 0)} without a deferral. {headers_only.summary}",
                before,
                here,
                after,
                tuple(reasons),
            )
        return Verdict(
            "none", "No significant delay before, on or after our server.", before, here, after, tuple(reasons)
        )
    if worst < SIGNIFICANT_SECONDS:
        where = "on_our_server"
    text = {
        "before_us": f"The delay was before the message reached us: {format_seconds(worst)} between the first "
        f"server and ours. Ask the sender's provider; our server took it as soon as it arrived.",
        "on_our_server": f"The delay was on our server: the message stayed {format_seconds(here or 0)} in our "
        f"queue ({local.matched_by})"
        + (
            f", deferred {len(local.deferrals)} time(s); last answer: {local.deferrals[-1].answer}"
            if local.deferrals
            else ""
        )
        + ".",
        "after_us": f"The delay was after our server: {format_seconds(worst)} between our delivery and the last "
        f"hop. The next server (or its filters) held it.",
    }[where]
    return Verdict(where, text, before, here, after, tuple(reasons), tuple(fixes) if where == "on_our_server" else ())
