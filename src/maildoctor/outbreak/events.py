"""The event path: the same Aggregate built from `LogEvent`s of maildoctor.logs.

Slower than the byte-level fast path (every line becomes an object) but it reads whatever the
log engine reads; tests check both paths give the same aggregate on the same log.
"""

from __future__ import annotations

from collections.abc import Iterable

from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.outbreak.aggregate import EVIDENCE, FAIL_EVIDENCE, Aggregate

_FLAGS = {
    EventKind.DELIVERY: b"=>",
    EventKind.ADDITIONAL: b"->",
    EventKind.FAILURE: b"**",
    EventKind.DEFERRAL: b"==",
}
_SPAN_KINDS = (EventKind.ARRIVAL, EventKind.COMPLETED, EventKind.LOCAL_SUBMISSION, EventKind.CUTTHROUGH)


def _b(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", "surrogateescape")


def aggregate_events(events: Iterable[LogEvent], bucket_chars: int = 13) -> Aggregate:
    """Feed Exim events (in log order) to a fresh Aggregate."""
    agg = Aggregate(bucket_chars)
    lines: dict[str, int] = {}
    first = last = b""
    for ev in events:
        lines[ev.source] = max(lines.get(ev.source, 0), ev.line_no)
        if ev.time is None:
            continue
        ts = ev.time.strftime("%Y-%m-%d %H:%M:%S").encode()
        if ev.kind in _FLAGS or ev.kind in _SPAN_KINDS:
            first = first or ts
            last = ts
        pid = str(ev.pid).encode() if ev.pid is not None else b""
        mid = _b(ev.message_id)
        if ev.kind is EventKind.LOCAL_SUBMISSION and ev.script_path:
            agg.on_cwd(ts, pid, ev.script_path.encode("utf-8", "surrogateescape"))
        elif ev.kind is EventKind.ARRIVAL and mid:
            sender = _b(ev.sender) or b"<>"
            ip = _b(ev.remote_ip) or (b"unknown" if ev.remote_host or ev.helo else None)
            rcpt_text = ev.extra.get("recipients")
            rcpts = rcpt_text.encode("utf-8", "surrogateescape").split() if rcpt_text else None
            st = agg.on_arrival(
                ts, pid, mid, sender, ip, _b(ev.local_user), _b(ev.auth_id) or None, ev.size or 0, rcpts
            )
            if st is not None:
                st[EVIDENCE].append((ev.source, 0, ev.line_no, ev.raw))
        elif ev.kind in _FLAGS and mid:
            rest = b" " + (_b(ev.recipient) or b"")
            if ev.original_recipient and ev.original_recipient != ev.recipient:
                rest += b" <" + ev.original_recipient.encode("utf-8", "surrogateescape") + b">"
            st = agg.on_outcome(mid, _FLAGS[ev.kind], rest)
            if st is not None:
                st[FAIL_EVIDENCE].append((ev.source, 0, ev.line_no, ev.raw))
        elif ev.kind is EventKind.COMPLETED and mid:
            agg.on_completed(ts, mid)
    for source, n in lines.items():
        agg.note_span(source, 0, n, b"", b"")
    agg.first, agg.last = first, last
    return agg
