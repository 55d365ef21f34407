"""Text report of a header analysis: the hop table, the clocks, authentication, the verdict."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from maildoctor.headers.analyze import HeaderReport
from maildoctor.headers.dates import format_seconds


def render_report(console: Console, report: HeaderReport) -> None:
    chain = report.chain
    head = f"[bold]maildoctor headers[/]: {len(chain.hops)} hops"
    if chain.total_seconds is not None:
        head += f", delivered in {format_seconds(chain.total_seconds)}"
    if report.headers.origin != "message":
        head += f" (original message found in the bounce: {report.headers.origin})"
    console.print(head)
    if report.message_id:
        console.print(f"Message-ID: {escape(report.message_id)}")
    if chain.hops:
        table = Table(show_edge=False, pad_edge=False, box=None)
        for col in ("hop", "delay", "share", "from", "by", "with", "id", "time (UTC)"):
            table.add_column(col, overflow="fold")
        for hop in chain.hops:
            r = hop.received
            if hop.delay_seconds is None:
                delay = "*" if hop.time is not None else "no date"
            else:
                delay = format_seconds(hop.delay_seconds) + (" SKEW" if hop.skew and hop.delay_seconds <= -1 else "")
            src = r.from_host or ""
            if r.ip and r.ip not in src:
                src = f"{src} [{r.ip}]".strip()
            mark = " <- slowest" if chain.slowest is hop else ""
            table.add_row(
                str(hop.index),
                delay + mark,
                f"{hop.share_percent:.0f}%" if hop.share_percent else "",
                escape(src),
                escape(r.by_host or r.by or ""),
                escape(
                    (r.protocol or "") + (" TLS" if r.tls and r.protocol and "S" not in r.protocol.upper()[-2:] else "")
                ),
                escape(r.id or ""),
                hop.time.utc.strftime("%Y-%m-%d %H:%M:%S") + ("?" if hop.time.zone_assumed else "") if hop.time else "",
            )
        console.print(table)
    if chain.sender_clock is not None:
        sc = chain.sender_clock
        console.print(
            f"Date header (sender's clock): {sc.date.utc.strftime('%Y-%m-%d %H:%M:%S')} UTC, "
            f"{format_seconds(sc.seconds_to_first_hop)} before the first hop"
        )
    auth = report.auth
    parts = [f"{m}={auth._final_json(m)}" for m in ("spf", "dkim", "dmarc") if auth._final_json(m)]
    if parts:
        console.print("Authentication: " + " ".join(parts))
    for sig in auth.dkim_signatures:
        console.print(f"DKIM signature: d={escape(sig.get('d', '?'))} s={escape(sig.get('s', '?'))}")
    if auth.arc:
        console.print(
            "ARC: " + ", ".join(f"i={a.get('i', '?')} cv={a.get('cv', '?')} d={a.get('d', '?')}" for a in auth.arc)
        )
    for v in auth.spam:
        console.print(f"Spam filter {escape(v.filter)}: {v.verdict} ({escape(v.header)}: {escape(v.value[:80])})")
    if report.local is not None:
        loc = report.local
        console.print(
            f"Our log ({escape(loc.matched_by)}): arrived {loc.arrival}, {loc.story.final_status}"
            + (f", {format_seconds(loc.queue_seconds)} in our queue" if loc.queue_seconds is not None else "")
            + (f", {len(loc.deferrals)} deferral(s)" if loc.deferrals else "")
        )
        for d in loc.deferrals:
            console.print(f"  deferred {d.time}: {escape(d.answer)}" + (f" ({escape(d.host)})" if d.host else ""))
    console.print()
