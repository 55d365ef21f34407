"""Doctor checks from the mail log: messages stuck in retry, frozen messages, a blocklisted server.

Only the recent part of the live logs is read (the last RECENT_BYTES of each), so doctor stays
quick on a server with a gigabyte of log; "now" is the last time in the log, so a snapshot or the
demo tree gives the same answer as the live server did.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.explain import explain_response
from maildoctor.logs.read import DEFAULT_LOGS, LogReader
from maildoctor.model import Evidence, Finding, Severity

RECENT_BYTES = 64 * 1024 * 1024
STUCK_AFTER = dt.timedelta(days=1)
BLOCKLIST_MIN = 5  # rejections naming a blocklist before we call the server blocklisted
MAX_EVIDENCE = 12
# the only lines these checks look at (Exim flags and words; Postfix status words), found without parsing
WANTED = (b" == ", b" ** ", b"Completed", b"Frozen", b"Unfrozen", b"status=deferred", b"status=bounced",
          b": removed", b"blocked", b"listed")


@dataclass
class _Deferred:
    first: LogEvent
    last: LogEvent
    count: int = 1
    recipients: set[str] = field(default_factory=set)


def _naive(t: dt.datetime | None) -> dt.datetime | None:
    return t.replace(tzinfo=None) if t is not None else None


def _ev(e: LogEvent) -> Evidence:
    return Evidence("log", e.raw, e.source, e.line_no)


def analyze_events(events: Iterable[LogEvent]) -> list[Finding]:
    """Findings from a stream of events (pure; `read_log_findings` does the reading)."""
    deferred: dict[str, _Deferred] = {}
    frozen: dict[str, LogEvent] = {}
    blocklisted: list[LogEvent] = []
    last_time: dt.datetime | None = None
    for e in events:
        if e.time is not None:
            last_time = _naive(e.time)
        mid = e.message_id
        if mid is None:
            continue
        k = e.kind
        if k is EventKind.DEFERRAL:
            d = deferred.get(mid)
            if d is None:
                deferred[mid] = d = _Deferred(e, e)
            else:
                d.last, d.count = e, d.count + 1
            if e.recipient:
                d.recipients.add(e.original_recipient or e.recipient)
        elif k is EventKind.COMPLETED:
            deferred.pop(mid, None)
            frozen.pop(mid, None)
        elif k is EventKind.FROZEN:
            frozen[mid] = e
        elif k is EventKind.UNFROZEN:
            frozen.pop(mid, None)
        if k in (EventKind.DEFERRAL, EventKind.FAILURE) and e.diagnostic:
            meaning = explain_response(e.diagnostic)
            if meaning is not None and meaning["id"] == "blocklisted":
                blocklisted.append(e)
    findings: list[Finding] = []
    if last_time is not None:
        stuck = [d for d in deferred.values()
                 if d.first.time and last_time - d.first.time.replace(tzinfo=None) >= STUCK_AFTER]
        if stuck:
            findings.append(_stuck_finding(stuck, last_time))
    if frozen:
        findings.append(_frozen_finding(list(frozen.values())))
    if len(blocklisted) >= BLOCKLIST_MIN:
        findings.append(_blocklist_finding(blocklisted))
    return findings


def _stuck_finding(stuck: list[_Deferred], now: dt.datetime) -> Finding:
    stuck.sort(key=lambda d: d.first.time or now)
    reasons = Counter((explain_response(d.last.diagnostic or "") or {}).get("id", "other") for d in stuck)
    oldest = stuck[0]
    age = now - _naive(oldest.first.time)  # type: ignore[operator]
    evidence: list[Evidence] = []
    for d in stuck[: MAX_EVIDENCE // 2]:
        evidence.extend([_ev(d.first), _ev(d.last)] if d.last is not d.first else [_ev(d.first)])
    top = reasons.most_common(1)[0][0]
    meaning = explain_response(oldest.last.diagnostic or "")
    fix = [
        f"See one message's whole story: maildoctor trace {oldest.first.message_id}",
        "Force a delivery attempt now: exim -M MESSAGE-ID (or exim -qff for the whole queue)",
    ]
    if meaning:
        fix.insert(0, meaning["action"])
    return Finding(
        "logs.stuck_in_retry",
        Severity.WARNING,
        f"{len(stuck)} message(s) have been retrying for over a day",
        f"The oldest has been deferred for {age.days} d {age.seconds // 3600} h ({oldest.count} attempts); "
        f"most common reason: {top} ({reasons[top]} messages). Exim gives up after its retry timeout "
        "(usually 4 days) and bounces them.",
        tuple(evidence),
        tuple(fix),
        subject=oldest.first.message_id or "",
        data={"messages": [d.first.message_id for d in stuck], "reasons": dict(reasons)},
    )


def _frozen_finding(frozen: list[LogEvent]) -> Finding:
    return Finding(
        "logs.frozen",
        Severity.WARNING,
        f"{len(frozen)} frozen message(s) in the log that were never completed",
        "Exim froze them (usually bounces that could not be delivered to their sender) and will not retry "
        "them. Many frozen bounces mean the server accepted spam and is bouncing it (backscatter).",
        tuple(_ev(e) for e in frozen[:MAX_EVIDENCE]),
        ("Inspect one: exim -Mvh MESSAGE-ID; remove frozen bounces: exiqgrep -z -i | xargs exim -Mrm",
         "Find what let the spam in: maildoctor trace MESSAGE-ID (the bounce's R= parent)"),
        subject=frozen[0].message_id or "",
        data={"messages": [e.message_id for e in frozen]},
    )


def _blocklist_finding(events: list[LogEvent]) -> Finding:
    meaning = explain_response(events[0].diagnostic or "") or {}
    hosts = Counter(e.remote_host or e.remote_ip or "?" for e in events)
    return Finding(
        "logs.blocklisted",
        Severity.CRITICAL,
        f"Remote servers refuse this server's mail because of a blocklist ({len(events)} times)",
        f"{meaning.get('meaning', '')} Refused by: " + ", ".join(f"{h} ({n})" for h, n in hosts.most_common(5)),
        tuple(_ev(e) for e in events[:MAX_EVIDENCE]),
        (meaning.get("action", ""),),
        data={"count": len(events)},
    )


def read_log_findings(paths: list[Path]) -> tuple[list[Finding], list[str]]:
    reader = LogReader(paths, tail_bytes=RECENT_BYTES, only=WANTED)
    findings = analyze_events(reader)
    return findings, reader.problems.lines()


@doctor_check("logs")
def check_mail_log(ctx: DoctorContext) -> list[Finding]:
    paths = [ctx.root / rel for rel in DEFAULT_LOGS if (ctx.root / rel).exists()]
    if not paths:
        return []
    findings, problems = read_log_findings(paths)
    for p in problems:
        findings.append(Finding("logs.unreadable", Severity.UNKNOWN, "Could not read the mail log", p))
    if not findings:
        findings.append(Finding("logs.ok", Severity.OK, "Mail log: nothing stuck, frozen or blocklisted",
                                f"read the recent part of {', '.join(str(p) for p in paths)}"))
    return findings
