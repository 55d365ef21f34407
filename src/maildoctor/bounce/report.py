"""Bounce results as the JSON document of `maildoctor bounce` and as findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from maildoctor.bounce.model import Bounce, LocalCause, Recipient
from maildoctor.bounce.reason import taxonomy
from maildoctor.model import Evidence, Finding, Severity


def cause_dict(c: LocalCause | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"kind": c.kind, "summary": c.summary, "file": c.file or None, "line": c.line,
            "detail": dict(c.detail), "fix": list(c.fix)}  # fmt: skip


def recipient_dict(r: Recipient) -> dict[str, Any]:
    """The issue's fields always; the optional ones (original_recipient, command, target,
    feedback_type) only when known, which keeps large runs' documents small."""
    out: dict[str, Any] = {
        "address": r.address,
        "action": r.action or None,
        "status": r.status or None,
        "smtp_code": r.smtp_code or None,
        "reason": r.reason,
        "hard": r.hard,
        "diagnostic": r.diagnostic,
        "remote_mta": r.remote_mta or None,
        "rule": {"id": r.rule.id, "matched": r.rule.matched},
        "local_cause": cause_dict(r.local_cause),
    }
    for key, value in (("original_recipient", r.original_recipient), ("command", r.command),
                       ("target", r.target), ("feedback_type", r.feedback_type),
                       ("last_attempt", r.last_attempt)):  # fmt: skip
        if value:
            out[key] = value
    return out


def bounce_dict(b: Bounce) -> dict[str, Any]:
    return {
        "file": b.file,
        "kind": b.kind,
        "agent": b.agent or None,
        "reporting_mta": b.reporting_mta or None,
        "original_message_id": b.original_message_id or None,
        "original_from": b.original_from or None,
        "original_to": b.original_to or None,
        "original_subject": b.original_subject or None,
        "recipients": [recipient_dict(r) for r in b.recipients],
        "notes": list(b.notes),
    }


def bounce_findings(bounces: Sequence[Bounce], max_evidence: int = 20) -> list[Finding]:
    """One finding per local cause (the actionable part, bounces with the same cause grouped),
    one per failure reason for the recipients without a local cause, one summary."""
    findings: list[Finding] = []
    by_reason: dict[tuple[str, str], list[tuple[Bounce, Recipient]]] = {}
    # one finding per cause: the same file and line (a :fail: default hit by many addresses), else same text
    by_cause: dict[tuple[str, str, int | None], list[tuple[Bounce, Recipient, LocalCause]]] = {}
    for b in bounces:
        for r in b.recipients:
            c = r.local_cause
            # a recipient whose cause was found here is reported once, by its cause finding
            if b.kind in ("failure", "delay") and c is None:
                by_reason.setdefault((b.kind, r.reason), []).append((b, r))
            if c is not None:
                key = (c.kind, c.file, c.line) if c.file and c.kind != "deferral" else (c.kind, c.summary, None)
                by_cause.setdefault(key, []).append((b, r, c))
    for grouped in by_cause.values():
        b, r, c = grouped[0]
        raw = str(c.detail.get("raw", "")) or c.summary
        cause_ev = [Evidence("file", raw, c.file, c.line)] if c.file else []
        cause_ev += [
            Evidence("text", f"{x.address}: {x.diagnostic[:300]}", bb.file) for bb, x, _ in grouped[:max_evidence]
        ]
        failures = any(bb.kind == "failure" for bb, _, _ in grouped)
        count = f" (and {len(grouped) - 1} more like it)" if len(grouped) > 1 else ""
        findings.append(
            Finding(
                id=f"bounce.cause.{c.kind}",
                severity=Severity.WARNING if failures else Severity.INFO,
                title=f"{r.address}: {c.summary}{count}",
                explanation=f"Bounce {b.file}: {r.reason} ({r.status or 'no status'}), rule {r.rule.id}.",
                evidence=tuple(cause_ev),
                fix=c.fix,
                subject=r.address,
                data={"files": [bb.file for bb, _, _ in grouped], "reason": r.reason, "local_cause": cause_dict(c)},
            )
        )
    for (kind, reason), items in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        hard = sum(1 for _, r in items if r.hard)
        ev = tuple(Evidence("text", f"{r.address}: {r.diagnostic[:200]}", b.file) for b, r in items[:max_evidence])
        title = f"{len(items)} recipient(s) {'delayed' if kind == 'delay' else 'failed'}: {reason}"
        entry = taxonomy().get(reason, {})
        findings.append(
            Finding(
                id=f"bounce.{kind}.{reason}",
                severity=Severity.WARNING if kind == "failure" else Severity.INFO,
                title=title + (f" ({hard} hard)" if hard else ""),
                explanation=str(entry.get("meaning", "")),
                evidence=ev,
                fix=(str(entry["fix"]),) if "fix" in entry else (),
                data={"count": len(items), "hard": hard},
            )
        )
    kinds = Counter(b.kind for b in bounces)
    findings.append(
        Finding(
            id="bounce.summary",
            severity=Severity.INFO,
            title=f"{len(bounces)} message(s): " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()),
            data=dict(kinds),
        )
    )
    return findings
