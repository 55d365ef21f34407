"""The whole header analysis: hops and delays, sender clock, authentication, local join, verdict.

`analyze_headers` is pure (the local join is passed in, already read); it returns a
`HeaderReport` with the findings and the JSON document of ``maildoctor headers``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from maildoctor.headers.auth import AuthSummary, analyze_auth
from maildoctor.headers.dates import format_seconds
from maildoctor.headers.hops import MAX_HOPS, Chain, Hop, analyze_chain
from maildoctor.headers.message import HeaderSet
from maildoctor.headers.verdict import SIGNIFICANT_SECONDS, LocalJoin, Verdict, decide
from maildoctor.model import Evidence, Finding, Severity

SLOW_HOP_SECONDS = 600  # a hop slower than this is worth a warning
SKEW_WARN_SECONDS = 300  # a clock this far off is a problem of its own (TLS, DKIM expiry, logs)
SENDER_AHEAD_SECONDS = 300
SENDER_LATE_SECONDS = 1800


@dataclass(frozen=True, slots=True)
class HeaderReport:
    headers: HeaderSet
    chain: Chain
    auth: AuthSummary
    message_id: str | None
    subject: str | None
    local: LocalJoin | None
    verdict: Verdict
    findings: tuple[Finding, ...]

    def to_json(self) -> dict[str, Any]:
        c = self.chain
        return {
            "source": self.headers.origin,
            "message_id": self.message_id,
            "subject": self.subject,
            "hops": [h.to_json() for h in c.hops],
            "total_seconds": c.total_seconds,
            "slowest_hop": c.slowest.index if c.slowest else None,
            "duplicates_dropped": c.dropped_duplicates,
            "sender_clock": (
                {
                    "date": c.sender_clock.date.utc.isoformat(),
                    "first_hop_time": c.sender_clock.first_hop_time.utc.isoformat(),
                    "seconds_to_first_hop": c.sender_clock.seconds_to_first_hop,
                }
                if c.sender_clock
                else None
            ),
            "authentication": self.auth.to_json(),
            "local": self.local.to_json() if self.local else None,
            "verdict": self.verdict.to_json(),
            "notes": list(self.headers.notes),
        }


def client_ip_received_by(chain: Chain, trust: str) -> str | None:
    """The public client IP seen by the first server (newest first) whose 'by' names `trust`.

    This is the address that really connected to a server you trust; everything older in the
    chain could have been written by the sender.
    """
    if not trust.strip():
        return None
    for hop in reversed(chain.hops):
        if trust in (hop.received.by or ""):
            ip = hop.received.ip
            if ip and ipaddress.ip_address(ip).is_global:
                return ip
            return None
    return None


def _hop_evidence(hop: Hop) -> Evidence:
    return Evidence("header", f"Received: {hop.received.raw}", source=f"hop {hop.index}")


def _hop_label(hop: Hop) -> str:
    r = hop.received
    return r.by_host or r.by or "?"


def _chain_findings(chain: Chain) -> list[Finding]:
    out: list[Finding] = []
    if not chain.hops:
        return [
            Finding(
                "headers.no_received",
                Severity.UNKNOWN,
                "No Received headers: the route and its delays cannot be timed",
                "The text has header fields but no Received header. Paste the full header (in Outlook: "
                "File > Properties > Internet headers; in Gmail: Show original).",
            )
        ]
    slow = chain.slowest
    if slow is not None and (slow.delay_seconds or 0) >= SLOW_HOP_SECONDS:
        prev = chain.hops[slow.previous_index - 1] if slow.previous_index else None
        holder = _hop_label(prev) if prev else (slow.received.from_host or "the previous server")
        assert slow.delay_seconds is not None
        out.append(
            Finding(
                "headers.slow_hop",
                Severity.WARNING,
                f"Hop {slow.index} took {format_seconds(slow.delay_seconds)}: {holder} -> {_hop_label(slow)}",
                f"{slow.share_percent:.0f}% of the delays are in this hop. The message was held by {holder} "
                f"(its queue, a deferral or a content filter) before {_hop_label(slow)} accepted it.",
                evidence=tuple(_hop_evidence(h) for h in (prev, slow) if h is not None),
                fix=(
                    f"Look up the message on {holder}: its log shows the queue time and any deferral "
                    "(on that server: maildoctor headers FILE --root /).",
                ),
                subject=_hop_label(slow),
                data={"hop": slow.index, "delay_seconds": slow.delay_seconds},
            )
        )
    for hop in chain.skewed:
        prev = chain.hops[hop.previous_index - 1] if hop.previous_index else None
        if prev is None or prev.time is None or hop.time is None or hop.delay_seconds is None:
            continue
        size = abs(hop.delay_seconds)
        if size < 1:
            continue  # sub-second: one clock rounds, the other does not
        out.append(
            Finding(
                "headers.clock_skew",
                Severity.WARNING if size >= SKEW_WARN_SECONDS else Severity.INFO,
                f"Clock skew at hop {hop.index}: {_hop_label(hop)} stamped it {format_seconds(size)} "
                f"before {_hop_label(prev)} did",
                f"{_hop_label(prev)} clock: {prev.time.utc.isoformat()} (hop {prev.index}); "
                f"{_hop_label(hop)} clock: {hop.time.utc.isoformat()} (hop {hop.index}). A message cannot arrive "
                f"before it was sent, so one of these clocks is wrong; this hop's delay is not counted.",
                evidence=(_hop_evidence(prev), _hop_evidence(hop)),
                fix=("Check NTP on both servers (chronyc tracking / timedatectl).",),
                data={"hop": hop.index, "seconds": hop.delay_seconds},
            )
        )
    undated = [h for h in chain.hops if h.time is None]
    if undated:
        out.append(
            Finding(
                "headers.undated_hops",
                Severity.INFO,
                f"{len(undated)} hop(s) without a readable date: " + ", ".join(str(h.index) for h in undated),
                "Their delay is counted in the next dated hop.",
                evidence=tuple(_hop_evidence(h) for h in undated[:5]),
            )
        )
    assumed = [h for h in chain.hops if h.time is not None and h.time.zone_assumed]
    if assumed:
        out.append(
            Finding(
                "headers.zone_assumed",
                Severity.INFO,
                f"{len(assumed)} hop date(s) have no time zone; read as UTC",
                "A server that writes no zone makes its hop delay uncertain by its UTC offset.",
                evidence=tuple(_hop_evidence(h) for h in assumed[:5]),
            )
        )
    if chain.truncated:
        out.append(
            Finding(
                "headers.too_many_hops",
                Severity.INFO,
                f"More than {MAX_HOPS} Received headers: only the newest {MAX_HOPS} were analysed",
                "A real message has a few dozen hops at most; this many means a mail loop or crafted headers.",
            )
        )
    if chain.dropped_duplicates:
        out.append(
            Finding(
                "headers.duplicate_hops",
                Severity.INFO,
                f"{chain.dropped_duplicates} duplicated Received header(s) ignored",
                "Identical Received headers are one hop written twice (a relay re-adding it or a double paste).",
            )
        )
    sc = chain.sender_clock
    if sc is not None:
        if sc.seconds_to_first_hop < -SENDER_AHEAD_SECONDS:
            out.append(
                Finding(
                    "headers.sender_clock_ahead",
                    Severity.INFO,
                    f"The sender's clock is {format_seconds(-sc.seconds_to_first_hop)} ahead of the first server",
                    f"Date header: {sc.date.utc.isoformat()}; first hop: {sc.first_hop_time.utc.isoformat()}. "
                    "The Date header comes from the sending computer's clock; it is not a delivery delay.",
                )
            )
        elif sc.seconds_to_first_hop > SENDER_LATE_SECONDS:
            out.append(
                Finding(
                    "headers.sender_late",
                    Severity.INFO,
                    f"The first server got the message {format_seconds(sc.seconds_to_first_hop)} after its Date",
                    f"Date header: {sc.date.utc.isoformat()}; first hop: {sc.first_hop_time.utc.isoformat()}. "
                    "Either the sender's clock is behind, or the message sat in the sender's outbox "
                    "(offline mail client, a retrying submission) before it was sent.",
                )
            )
    return out


def _auth_findings(auth: AuthSummary) -> list[Finding]:
    out: list[Finding] = []
    finals = {m: auth.final(m) for m in ("spf", "dkim", "dmarc")}
    said = [f"{m}={r.result}" for m, r in finals.items() if r is not None]
    top = next((h for h in auth.results if h.source == "Authentication-Results"), None)
    if said and top is not None:
        bad = [m for m, r in finals.items() if r is not None and r.result in ("fail", "softfail", "permerror")]
        out.append(
            Finding(
                "headers.authentication",
                Severity.WARNING if "dmarc" in bad or ("spf" in bad and "dkim" in bad) else Severity.INFO,
                f"Authentication at {top.authserv_id or 'the receiver'}: " + " ".join(said),
                "Authentication-Results written by the receiving server (the topmost one is the final receiver)."
                + (f" Failed: {', '.join(bad)}." if bad else ""),
                evidence=tuple(
                    Evidence("header", " ".join([f"{r.method}={r.result}", *(f"{k}={v}" for k, v in r.props.items())]))
                    for r in top.results[:6]
                ),
            )
        )
    for verdict in auth.spam:
        if verdict.verdict == "spam":
            out.append(
                Finding(
                    "headers.spam_verdict",
                    Severity.WARNING,
                    f"{verdict.filter} marked the message as spam",
                    "A spam filter on the way flagged it; the recipient may find it in a junk folder.",
                    evidence=(Evidence("header", f"{verdict.header}: {verdict.value}"),),
                )
            )
    return out


def _verdict_finding(verdict: Verdict, local: LocalJoin | None) -> Finding:
    evidence: list[Evidence] = []
    if local is not None:
        for d in local.deferrals[:5]:
            evidence.append(Evidence("log", d.raw or d.answer, source=d.source, line=d.line))
        if not evidence:
            evidence = [Evidence("log", e.raw, source=e.source, line=e.line_no) for e in local.story.evidence[:3]]
    # a greylisting retry that cost 20 seconds is worth knowing, not a problem; minutes are
    severity = Severity.INFO
    if verdict.where == "on_our_server" and (verdict.here_seconds or 0) >= SIGNIFICANT_SECONDS:
        severity = Severity.WARNING
    title = {
        "on_our_server": "The delay was on our server",
        "before_us": "The delay was before the message reached us",
        "after_us": "The delay was after our server",
        "none": "No significant delay",
        "unknown": "Where the delay was",
    }[verdict.where]
    status = local.story.final_status if local is not None else "delivered"
    if status in ("failed", "partial", "deferred", "frozen", "pending"):
        title += f"; our server has not delivered it ({status})"
        severity = Severity.WARNING
    return Finding(
        "headers.verdict",
        severity,
        title,
        "\n".join([verdict.summary, *verdict.reasons]),
        evidence=tuple(evidence),
        fix=verdict.fixes,
        data=verdict.to_json(),
    )


def analyze_headers(headers: HeaderSet, local: LocalJoin | None = None) -> HeaderReport:
    chain = analyze_chain(headers.get_all("Received"), headers.first("Date"))
    auth = analyze_auth(headers.fields)
    mid = headers.first("Message-ID")
    verdict = decide(chain, local)
    findings = _chain_findings(chain) + _auth_findings(auth)
    if chain.hops:
        findings.append(_verdict_finding(verdict, local))
    return HeaderReport(
        headers=headers,
        chain=chain,
        auth=auth,
        message_id=" ".join(mid.split()) if mid else None,
        subject=headers.first("Subject"),
        local=local,
        verdict=verdict,
        findings=tuple(findings),
    )
