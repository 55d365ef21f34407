"""Text report of a header analysis: the hop table, the clocks, authentication, our log."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from maildoctor.headers.analyze import HeaderReport
from maildoctor.headers.dates import format_seconds
from maildoctor.headers.hops import Hop


def _with(hop: Hop) -> str:
    """The protocol, marked +TLS when TLS was used and the protocol name does not say so."""
    r = hop.received
    proto = r.protocol or ""
    says_tls = proto.upper() != "SMTP" and proto.upper().rstrip("A").endswith("S")
    return proto + ("+TLS" if r.tls and not says_tls else "")


def _delay(hop: Hop, slowest: bool) -> str:
    if hop.delay_seconds is None:
        return "*" if hop.time is not None else "no date"
    text = format_seconds(hop.delay_seconds)
    if hop.skew and hop.delay_seconds <= -1:
        text += " SKEW"
    return text + (" <- slowest" if slowest else "")


def _hop_table(report: HeaderReport) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("hop", "delay", "share", "from", "by", "with", "id", "time (UTC)"):
        table.add_column(col, overflow="fold")
    for hop in report.chain.hops:
        r = hop.received
        src = r.from_host or ""
        if r.ip and r.ip not in src:
            src = f"{src} [{r.ip}]".strip()
        when = ""
        if hop.time is not None:
            when = hop.time.utc.strftime("%Y-%m-%d %H:%M:%S") + ("?" if hop.time.zone_assumed else "")
        table.add_row(
            str(hop.index),
            _delay(hop, report.chain.slowest is hop),
            f"{hop.share_percent:.0f}%" if hop.share_percent else "",
            escape(src),
            escape(r.by_host or r.by or ""),
            escape(_with(hop)),
            escape(r.id or ""),
            when,
        )
    return table


def render_report(console: Console, report: HeaderReport) -> None:
    chain = report.chain
    head = f"[bold]maildoctor headers[/]: {len(chain.hops)} hops"
    if chain.total_seconds is not None:
        head += f", delivered in {format_seconds(chain.total_seconds)}"
    if report.headers.origin != "message":
        head += f" (the original message, found in the bounce: {report.headers.origin})"
    console.print(head)
    if report.message_id:
        console.print(f"Message-ID: {escape(report.message_id)}")
    if chain.hops:
        console.print(_hop_table(report))
    if chain.sender_clock is not None:
        sc = chain.sender_clock
        gap = sc.seconds_to_first_hop
        rel = (
            f"{format_seconds(gap)} before the first hop" if gap >= 0 else f"{format_seconds(-gap)} AFTER the first hop"
        )
        console.print(f"Date header (sender's clock): {sc.date.utc.strftime('%Y-%m-%d %H:%M:%S')} UTC, {rel}")
    auth = report.auth
    parts = [f"{m}={auth.final_result(m)}" for m in ("spf", "dkim", "dmarc") if auth.final_result(m)]
    if parts:
        console.print("Authentication: " + " ".join(parts))
    for sig in auth.dkim_signatures:
        console.print(f"DKIM signature: d={escape(sig.get('d', '?'))} s={escape(sig.get('s', '?'))}")
    if auth.arc:
        seals = ", ".join(f"i={a.get('i', '?')} cv={a.get('cv', '?')} d={a.get('d', '?')}" for a in auth.arc)
        console.print(f"ARC: {escape(seals)}")
    for v in auth.spam:
        console.print(f"Spam filter {escape(v.filter)}: {v.verdict} ({escape(v.header)}: {escape(v.value[:80])})")
    if report.local is not None:
        loc = report.local
        line = f"Our log ({escape(loc.matched_by)}): arrived {loc.arrival}, {loc.story.final_status}"
        if loc.queue_seconds is not None:
            line += f", {format_seconds(loc.queue_seconds)} in our queue"
        if loc.deferrals:
            line += f", {len(loc.deferrals)} deferral(s)"
        console.print(line)
        for d in loc.deferrals:
            console.print(f"  deferred {d.time}: {escape(d.answer)}" + (f" ({escape(d.host)})" if d.host else ""))
    console.print()
