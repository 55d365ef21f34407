"""From a merged Aggregate to ranked sources: roll signatures up per source, measure, score.

Pure: `analyze_sources(agg, window, queued_by_source)` returns `SourceReport`s ordered by score.
Weights and wording come from kb/outbreak.toml.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maildoctor import kb
from maildoctor.model import Evidence, Severity
from maildoctor.outbreak.aggregate import (
    BYTES,
    DEFERRED,
    DELIVERED,
    DOMAIN_CAP,
    DOMAINS,
    EVIDENCE,
    FAIL_EVIDENCE,
    FAILED,
    FIRST,
    HIST,
    IP_MSGS,
    IPS,
    LAST,
    MSGS,
    RCPTS,
    Aggregate,
    Sig,
    Stats,
    ip_hist,
    merge_stats,
    new_stats,
)

MAX_IP_SOURCES = 1000
KINDS = ("script", "local_user", "auth_login", "client_ip", "sender")
# Tie-break: the most specific source first (the script before its cPanel user and sender).
_KIND_ORDER = {k: i for i, k in enumerate(("script", "auth_login", "local_user", "sender", "client_ip"))}


@dataclass(frozen=True, slots=True)
class Reason:
    id: str
    points: int
    text: str


@dataclass(slots=True)
class SourceReport:
    kind: str
    value: str
    messages: int
    recipients: int
    bytes: int
    delivered: int
    failed: int
    deferred_messages: int
    distinct_domains: int
    domains_capped: bool
    backscatter: int
    first_seen: str
    last_seen: str
    peak_per_hour: float
    peak_window_start: str
    baseline_per_window: float | None
    client_ips: int
    senders: int
    queued: int = 0
    score: int = 0
    severity: Severity = Severity.OK
    reasons: list[Reason] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    sample_senders: list[str] = field(default_factory=list)
    sample_ips: list[str] = field(default_factory=list)

    @property
    def failure_ratio(self) -> float:
        outcomes = self.delivered + self.failed
        return self.failed / outcomes if outcomes else 0.0

    @property
    def deferral_ratio(self) -> float:
        return self.deferred_messages / self.messages if self.messages else 0.0

    @property
    def recipients_per_message(self) -> float:
        return max(self.recipients, self.delivered + self.failed) / self.messages if self.messages else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "source": {"kind": self.kind, "value": self.value},
            "messages": self.messages,
            "peak_per_hour": round(self.peak_per_hour, 1),
            "score": self.score,
            "severity": self.severity.value,
            "reasons": [{"id": r.id, "points": r.points, "text": r.text} for r in self.reasons],
            "evidence": [{"source": e.source, "line": e.line, "text": e.text} for e in self.evidence],
            "recipients": self.recipients,
            "recipients_per_message": round(self.recipients_per_message, 2),
            "bytes": self.bytes,
            "delivered": self.delivered,
            "failed": self.failed,
            "deferred_messages": self.deferred_messages,
            "failure_ratio": round(self.failure_ratio, 4),
            "deferral_ratio": round(self.deferral_ratio, 4),
            "distinct_recipient_domains": self.distinct_domains,
            "distinct_recipient_domains_capped": self.domains_capped,
            "backscatter": self.backscatter,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "peak_window_start": self.peak_window_start,
            "baseline_per_window": self.baseline_per_window,
            "client_ips": self.client_ips,
            "envelope_senders": self.senders,
            "queued": self.queued,
        }


def source_keys(sig: Sig) -> list[tuple[str, str]]:
    script, user, auth, ip, sender = sig
    keys = []
    for kind, value in zip(KINDS, (script, user, auth, ip, sender), strict=True):
        if value:
            keys.append((kind, value.decode("utf-8", "replace")))
    return keys


_EPOCH_CACHE: dict[bytes, float] = {}


def bucket_epoch(bucket: bytes) -> float:
    """'YYYY-MM-DD HH' or 'YYYY-MM-DD HH:MM' -> epoch seconds (log times taken as UTC)."""
    t = _EPOCH_CACHE.get(bucket)
    if t is None:
        text = bucket.decode("ascii")
        fmt = "%Y-%m-%d %H" if len(text) == 13 else "%Y-%m-%d %H:%M"
        t = dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC).timestamp()
        _EPOCH_CACHE[bucket] = t
    return t


def _fmt_epoch(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _windows(hist: Mapping[bytes, int], window: int) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for bucket, n in hist.items():
        out[int(bucket_epoch(bucket) // window)] += n
    return out


def _absolute_line(agg: Aggregate, path: str, start: int, line: int) -> int:
    before = sum(n for (p, s), n in agg.chunk_lines.items() if p == path and s < start)
    return before + line


def analyze_sources(
    agg: Aggregate,
    window: int = 3600,
    queued_by_source: Mapping[tuple[str, str], int] | None = None,
    limit: int = 500,
) -> list[SourceReport]:
    """Every sending source with its measures, score and reasons; highest score first."""
    rolled: dict[tuple[str, str], Stats] = {}
    members: dict[tuple[str, str], list[Sig]] = defaultdict(list)
    for sig, st in agg.sigs.items():
        for key in source_keys(sig):
            acc = rolled.get(key)
            if acc is None:
                acc = rolled[key] = new_stats()
            merge_stats(acc, st)
            members[key].append(sig)
    # Client IPs of authenticated mail: light rows (messages and rate), the busiest ones only.
    busiest = heapq.nlargest(MAX_IP_SOURCES, agg.client_ips.items(), key=lambda kv: kv[1][IP_MSGS])
    wanted = {ip for ip, _ in busiest}
    for sig, st in agg.sigs.items():
        for ip in st[IPS]:
            if ip in wanted:
                members[("client_ip", ip.decode("ascii", "replace"))].append(sig)
    for ip, row in busiest:
        key = ("client_ip", ip.decode("ascii", "replace"))
        light = new_stats()
        light[MSGS], light[FIRST], light[LAST] = row[IP_MSGS], row[1], row[2]
        light[HIST] = ip_hist(row, agg.bucket_chars)
        light[IPS] = {ip: row[IP_MSGS]}
        acc = rolled.get(key)
        if acc is None:
            rolled[key] = light
        else:
            merge_stats(acc, light)
    log_start = bucket_epoch(agg.first[:13]) if agg.first else 0.0
    log_end = bucket_epoch(agg.last[:13]) + 3600 if agg.last else 0.0
    reports = []
    for key, st in rolled.items():
        sigs = members[key]
        rep = _measure(agg, key, st, sigs, window)
        rep.queued = (queued_by_source or {}).get(key, 0)
        _score(rep, window, log_start, log_end)
        rep.evidence = _evidence(agg, [agg.sigs[s] for s in sigs])
        reports.append(rep)
    reports.sort(key=lambda r: (-r.score, _KIND_ORDER[r.kind], -r.messages, r.value))
    return reports[:limit] if limit else reports


def _measure(agg: Aggregate, key: tuple[str, str], st: Stats, sigs: list[Sig], window: int) -> SourceReport:
    kind, value = key
    wins = _windows(st[HIST], window)
    peak_idx, peak = max(wins.items(), key=lambda kv: (kv[1], -kv[0])) if wins else (0, 0)
    before = [n for i, n in wins.items() if i < peak_idx]
    baseline = statistics.median(before) if before else None
    senders = {s[4] for s in sigs}
    ip_counts: dict[bytes, int] = dict(st[IPS])
    for s in sigs:
        if s[3]:
            ip_counts[s[3]] = ip_counts.get(s[3], 0) + 1
    ips = sorted(ip_counts, key=lambda i: (-ip_counts[i], i))
    backscatter = sum(agg.backscatter.get(s, 0) for s in senders)
    return SourceReport(
        kind=kind,
        value=value,
        messages=st[MSGS],
        recipients=st[RCPTS],
        bytes=st[BYTES],
        delivered=st[DELIVERED],
        failed=st[FAILED],
        deferred_messages=st[DEFERRED],
        distinct_domains=len(st[DOMAINS]),
        domains_capped=len(st[DOMAINS]) >= DOMAIN_CAP,
        backscatter=backscatter,
        first_seen=st[FIRST].decode("ascii", "replace"),
        last_seen=st[LAST].decode("ascii", "replace"),
        peak_per_hour=peak * 3600 / window,
        peak_window_start=_fmt_epoch(peak_idx * window) if wins else "",
        baseline_per_window=baseline,
        client_ips=len(ips),
        senders=len(senders),
        sample_senders=sorted(s.decode("utf-8", "replace") for s in senders)[:5],
        sample_ips=[i.decode("ascii", "replace") for i in ips[:5]],
    )


def _window_name(window: int) -> str:
    if window % 3600 == 0:
        return f"{window // 3600}h" if window != 3600 else "hour"
    return f"{window // 60}min"


def _score(rep: SourceReport, window: int, log_start: float, log_end: float) -> None:
    book = kb.load("outbreak")
    meta = book.meta
    reasons: list[Reason] = []

    def add(entry_id: str, **values: Any) -> None:
        entry = book.by_id(entry_id)
        reasons.append(Reason(entry_id, int(entry["points"]), str(entry["text"]).format(**values)))

    outcomes = rep.delivered + rep.failed
    for rid in ("failure_ratio_high", "failure_ratio_some"):
        e = book.by_id(rid)
        if outcomes >= e["min_outcomes"] and rep.failure_ratio >= e["min_ratio"]:
            add(rid, failed=rep.failed, outcomes=outcomes, ratio=rep.failure_ratio)
            break
    e = book.by_id("deferral_ratio_high")
    if rep.messages >= e["min_messages"] and rep.deferral_ratio >= e["min_ratio"]:
        add("deferral_ratio_high", deferred=rep.deferred_messages, messages=rep.messages, ratio=rep.deferral_ratio)
    e = book.by_id("backscatter")
    if rep.backscatter >= e["min_bounces"] and rep.backscatter >= e["min_ratio"] * rep.messages:
        add("backscatter", bounces=rep.backscatter, ratio=rep.backscatter / max(1, rep.messages))
    e = book.by_id("burst")
    per_window = rep.peak_per_hour * window / 3600
    baseline = rep.baseline_per_window
    factor = per_window / max(baseline, 1.0) if baseline is not None else 0.0
    if baseline is not None and factor >= e["min_factor"] and rep.peak_per_hour >= e["min_peak_per_hour"]:
        add(
            "burst",
            peak=rep.peak_per_hour,
            when=rep.peak_window_start,
            factor=factor,
            baseline=baseline,
            window=_window_name(window),
        )
    else:
        e = book.by_id("new_source")
        first = bucket_epoch(rep.first_seen[:13].encode()) if rep.first_seen else log_start
        quiet_h = (first - log_start) / 3600
        span = log_end - log_start
        if (
            span > 0
            and (first - log_start) >= min(e["quiet_fraction"] * span, e["quiet_hours"] * 3600)
            and rep.peak_per_hour >= e["min_peak_per_hour"]
        ):
            add("new_source", first=rep.first_seen, quiet=quiet_h, peak=rep.peak_per_hour)
    if rep.kind == "script":
        for rid in ("script_in_writable_dir", "script_in_web_root"):
            if book.by_id(rid).search(rep.value):
                add(rid, value=rep.value)
                break
    e = book.by_id("many_client_ips")
    if rep.kind != "client_ip" and rep.client_ips >= e["min_ips"]:
        add("many_client_ips", ips=rep.client_ips)
    e = book.by_id("many_senders")
    if rep.kind != "sender" and rep.senders >= e["min_senders"]:
        add("many_senders", senders=rep.senders)
    if rep.kind == "auth_login" and "@" in rep.value and rep.sample_senders:
        login_dom = rep.value.rsplit("@", 1)[1].lower()
        foreign = [s for s in rep.sample_senders if s.rsplit("@", 1)[-1].lower() != login_dom]
        if foreign:
            add("sender_not_login", login=rep.value, sender=foreign[0])
    e = book.by_id("many_recipients_per_message")
    if rep.recipients_per_message >= e["min_ratio"]:
        add("many_recipients_per_message", ratio=rep.recipients_per_message)
    e = book.by_id("high_rate")
    if rep.peak_per_hour >= e["min_peak_per_hour"]:
        add("high_rate", peak=rep.peak_per_hour)
    e = book.by_id("many_domains")
    if rep.distinct_domains >= e["min_domains"]:
        add("many_domains", domains=f"{rep.distinct_domains}{'+' if rep.domains_capped else ''}")
    e = book.by_id("queued_now")
    if rep.queued >= e["min_queued"]:
        add("queued_now", queued=rep.queued)
    raw = min(100, sum(r.points for r in reasons))
    volume = min(1.0, math.log10(max(rep.messages, 1)) / math.log10(float(meta["full_volume_messages"])))
    rep.score = round(raw * volume)
    rep.reasons = reasons
    if rep.score >= meta["critical_score"]:
        rep.severity = Severity.CRITICAL
    elif rep.score >= meta["warning_score"]:
        rep.severity = Severity.WARNING
    elif rep.score >= meta["info_score"]:
        rep.severity = Severity.INFO
    else:
        rep.severity = Severity.OK


def _evidence(agg: Aggregate, stats: list[Stats], limit: int = 6) -> list[Evidence]:
    stats = sorted(stats, key=lambda s: -s[MSGS])[:3]
    refs = [r for st in stats for r in st[EVIDENCE][:1]] + [r for st in stats for r in st[FAIL_EVIDENCE][:1]]
    refs += [r for st in stats for r in st[EVIDENCE][1:]]
    out = []
    for path, start, line, text in refs[:limit]:
        out.append(Evidence("log", text, path, _absolute_line(agg, path, start, line) if line else None))
    return out
