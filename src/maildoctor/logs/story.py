"""Turn the events of one message into its story: arrival, per-recipient outcome, final state.

Pure: takes LogEvents (any format), returns a `MessageStory`. Recipient keys are the envelope
recipient as received (Exim's `<original>` on delivery lines, else the address), lower-cased.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.explain import explain_response

_DELIVERED = {EventKind.DELIVERY, EventKind.ADDITIONAL, EventKind.CUTTHROUGH}


@dataclass
class RecipientStory:
    address: str
    status: str = "pending"  # delivered | deferred | failed | pending | suppressed
    attempts: int = 0  # delivery attempts that ended in a deferral or failure, plus the final delivery
    last_response: str | None = None
    last_time: dt.datetime | None = None
    delivered_to: list[str] = field(default_factory=list)
    router: str | None = None
    transport: str | None = None
    remote_host: str | None = None
    remote_ip: str | None = None
    smtp_code: int | None = None
    enhanced_status: str | None = None
    retries_skipped: int = 0  # "retry time not reached" passes
    retry_timeout: bool = False
    explanation: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "status": self.status,
            "attempts": self.attempts,
            "last_response": self.last_response,
            "last_time": self.last_time.isoformat(sep=" ") if self.last_time else None,
            "delivered_to": self.delivered_to,
            "router": self.router,
            "transport": self.transport,
            "remote_host": self.remote_host,
            "remote_ip": self.remote_ip,
            "smtp_code": self.smtp_code,
            "enhanced_status": self.enhanced_status,
            "retry_timeout": self.retry_timeout,
            "explanation": self.explanation,
        }


@dataclass
class MessageStory:
    id: str
    format: str = ""
    message_id: str | None = None  # the Message-ID header
    sender: str | None = None
    received_at: dt.datetime | None = None
    size: int | None = None
    subject: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    recipients: list[RecipientStory] = field(default_factory=list)
    final_status: str = "unknown"  # delivered | failed | partial | deferred | pending | frozen | rejected | unknown
    completed_at: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    queue_seconds: float | None = None
    parent_id: str | None = None
    is_bounce: bool = False
    is_delay_warning: bool = False
    frozen: bool = False
    related: list[str] = field(default_factory=list)
    evidence: list[LogEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def recipient(self, address: str) -> RecipientStory | None:
        a = address.lower()
        for r in self.recipients:
            if r.address.lower() == a:
                return r
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "format": self.format,
            "message_id": self.message_id,
            "sender": self.sender,
            "received_at": self.received_at.isoformat(sep=" ") if self.received_at else None,
            "size": self.size,
            "subject": self.subject,
            "source": self.source,
            "recipients": [r.to_json() for r in self.recipients],
            "final_status": self.final_status,
            "completed_at": self.completed_at.isoformat(sep=" ") if self.completed_at else None,
            "queue_seconds": self.queue_seconds,
            "parent_id": self.parent_id,
            "is_bounce": self.is_bounce,
            "is_delay_warning": self.is_delay_warning,
            "related": self.related,
            "notes": self.notes,
            "evidence": [
                {"source": e.source, "line": e.line_no, "kind": e.kind.value, "text": e.raw} for e in self.evidence
            ],
        }


def _source(arrival: LogEvent | None, info: list[LogEvent], cwd: tuple[str, str, int] | None) -> dict[str, Any]:
    src: dict[str, Any] = {}
    evs = [e for e in [arrival, *info] if e is not None]
    for e in evs:
        for key, val in (
            ("host", e.remote_host), ("ip", e.remote_ip), ("helo", e.helo), ("auth_id", e.auth_id),
            ("local_user", e.local_user), ("protocol", e.protocol), ("tls", e.tls),
        ):
            if val is not None and key not in src:
                src[key] = val
    if arrival is not None and arrival.extra.get("auth_method"):
        src["auth_method"] = arrival.extra["auth_method"]
    if cwd is not None:
        src["script_path"] = cwd[0]
    if arrival is not None and arrival.parent_id and arrival.sender == "":
        src["kind"] = "bounce"
    elif src.get("auth_id"):
        src["kind"] = "smtp-auth"
    elif src.get("script_path"):
        src["kind"] = "script"
    elif src.get("ip") and src.get("ip") not in ("127.0.0.1", "::1"):
        src["kind"] = "smtp"
    elif src.get("local_user") or (src.get("protocol") or "").startswith("local"):
        src["kind"] = "local"
    elif src.get("ip"):
        src["kind"] = "smtp"
    else:
        src["kind"] = "unknown"
    return src


def build_story(mid: str, events: list[LogEvent], cwd: tuple[str, str, int] | None = None) -> MessageStory:
    """The story of message `mid` from its events (in log order)."""
    s = MessageStory(id=mid, evidence=list(events))
    s.format = events[0].format if events else ""
    arrival = next((e for e in events if e.kind is EventKind.ARRIVAL), None)
    info = [e for e in events if e.kind in (EventKind.MESSAGE_INFO, EventKind.LOCAL_SUBMISSION)]
    rcpts: dict[str, RecipientStory] = {}

    def rcpt(addr: str) -> RecipientStory:
        key = addr.lower()
        if key not in rcpts:
            rcpts[key] = RecipientStory(address=addr)
        return rcpts[key]

    if arrival is not None:
        s.sender = arrival.sender
        s.received_at = arrival.time
        s.size = arrival.size
        s.subject = arrival.subject
        s.message_id = arrival.header_message_id
        s.parent_id = arrival.parent_id if arrival.format == "exim" else None
        s.is_bounce = arrival.sender == "" and arrival.parent_id is not None
        if s.is_bounce and (arrival.subject or "").lower().startswith("warning:"):
            s.is_bounce, s.is_delay_warning = False, True
        for a in arrival.extra.get("recipients", "").split():
            rcpt(a)
    for e in info:
        if e.header_message_id and not s.message_id:
            s.message_id = e.header_message_id
        if e.sender is not None and s.sender is None:
            s.sender = e.sender
    s.source = _source(arrival, info, cwd)
    if cwd is not None:
        from maildoctor.logs.events import LogEvent as _LE

        s.evidence.insert(0, _LE(EventKind.LOCAL_SUBMISSION, cwd[1], source=events[0].source, line_no=cwd[2],
                                 format=s.format, script_path=cwd[0]))
    for e in events:
        if e.time is not None:
            s.last_seen = e.time
        _apply(e, s, rcpt)
        if e.kind is EventKind.FAILURE and not (e.original_recipient or e.recipient):
            _expire(e, rcpts)
    s.recipients = list(rcpts.values())
    for r in s.recipients:
        if r.status in ("deferred", "failed") and r.last_response:
            r.explanation = explain_response(r.last_response)
    _finish(s, events)
    return s


def _expire(e: LogEvent, rcpts: dict[str, RecipientStory]) -> None:
    """A failure for the whole message (Postfix `status=expired, returned to sender`)."""
    for r in rcpts.values():
        if r.status in ("pending", "deferred"):
            r.status = "failed"
            r.last_time = e.time
            r.last_response = f"{e.diagnostic} (after: {r.last_response})" if r.last_response else e.diagnostic


def _apply(e: LogEvent, s: MessageStory, rcpt: Any) -> None:
    k = e.kind
    addr = e.original_recipient or e.recipient
    if k in _DELIVERED and addr:
        r = rcpt(addr)
        r.status = "delivered"
        r.attempts += 1
        r.last_time = e.time
        if e.recipient and e.recipient not in r.delivered_to:
            r.delivered_to.append(e.recipient)
        r.router, r.transport = e.router or r.router, e.transport or r.transport
        r.remote_host, r.remote_ip = e.remote_host or r.remote_host, e.remote_ip or r.remote_ip
        r.last_response = e.confirmation or e.diagnostic or r.last_response
        r.smtp_code = e.smtp_code or r.smtp_code
    elif k is EventKind.SUPPRESSED and addr:
        r = rcpt(addr)
        r.status = "suppressed"
        r.last_time = e.time
    elif k in (EventKind.DEFERRAL, EventKind.FAILURE, EventKind.RETRY_NOT_REACHED) and addr:
        r = rcpt(addr)
        if r.status == "delivered" and k is not EventKind.FAILURE:
            return
        if k is EventKind.RETRY_NOT_REACHED:
            r.retries_skipped += 1
            if r.status == "pending":
                r.status = "deferred"
                r.last_response = e.diagnostic
            return
        r.status = "failed" if k is EventKind.FAILURE else "deferred"
        r.attempts += 1
        r.last_time = e.time
        r.last_response = e.diagnostic or r.last_response
        r.router, r.transport = e.router or r.router, e.transport or r.transport
        r.remote_host, r.remote_ip = e.remote_host or r.remote_host, e.remote_ip or r.remote_ip
        r.smtp_code, r.enhanced_status = e.smtp_code or r.smtp_code, e.enhanced_status or r.enhanced_status
        if e.extra.get("retry_timeout") or (e.diagnostic and "retry timeout exceeded" in e.diagnostic.lower()):
            r.retry_timeout = True
    elif k is EventKind.COMPLETED:
        s.completed_at = e.time
        if e.queue_seconds is not None:
            s.queue_seconds = e.queue_seconds
    elif k is EventKind.FROZEN:
        s.frozen = True
    elif k is EventKind.UNFROZEN:
        s.frozen = False
    elif k is EventKind.REJECT_DATA or (k in (EventKind.REJECT, EventKind.REJECT_RCPT) and e.message_id):
        if k is EventKind.REJECT_DATA:
            s.notes.append(f"rejected after DATA: {e.diagnostic or ''}".strip())
        elif e.recipient:
            r = rcpt(e.recipient)
            r.status, r.last_response = "failed", e.diagnostic
    elif k is EventKind.MESSAGE_INFO and e.extra.get("bounce_id") and e.extra["bounce_id"] not in s.related:
        s.related.append(e.extra["bounce_id"])
    if k in _DELIVERED and e.extra.get("forwarded_as") and e.extra["forwarded_as"] not in s.related:
        s.related.append(e.extra["forwarded_as"])


def _finish(s: MessageStory, events: list[LogEvent]) -> None:
    statuses = {r.status for r in s.recipients}
    rejected_data = any(e.kind is EventKind.REJECT_DATA for e in events)
    if s.frozen:
        s.final_status = "frozen"
    elif rejected_data and not statuses:
        s.final_status = "rejected"
    elif not statuses:
        s.final_status = "completed" if s.completed_at else ("pending" if s.received_at else "unknown")
    elif statuses <= {"delivered", "suppressed"}:
        s.final_status = "delivered"
    elif "deferred" in statuses or "pending" in statuses:
        s.final_status = "pending" if statuses <= {"pending"} else "deferred"
        if s.completed_at and "deferred" not in statuses:
            s.final_status = "delivered"
    elif statuses <= {"failed"}:
        s.final_status = "failed"
    else:
        s.final_status = "partial"  # some delivered, some failed
    end = s.completed_at or s.last_seen
    if s.queue_seconds is None and s.received_at and end:
        s.queue_seconds = max(0.0, (_naive(end) - _naive(s.received_at)).total_seconds())
    if s.parent_id and s.parent_id not in s.related:
        s.related.append(s.parent_id)
    if s.is_bounce:
        s.notes.append(f"this is a bounce (delivery failure report) for message {s.parent_id}")
    if s.is_delay_warning:
        s.notes.append(f"this is a delay warning for message {s.parent_id}")
    for r in s.recipients:
        if r.retry_timeout:
            s.notes.append(f"{r.address}: Exim gave up retrying (retry timeout exceeded)")
    if s.frozen:
        s.notes.append("the message is frozen: Exim will not retry it until it is thawed (exim -Mt ID) or removed")


def _naive(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=None)
