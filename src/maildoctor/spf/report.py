"""Turn an SPF evaluation into a Finding and a text report (pure; the CLI prints them)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from maildoctor import kb
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.spf.record import parse_record
from maildoctor.spf.result import SpfResult

RESULT_SEVERITY = {
    "pass": Severity.OK,
    "fail": Severity.CRITICAL,
    "softfail": Severity.WARNING,
    "neutral": Severity.WARNING,
    "none": Severity.WARNING,
    "permerror": Severity.CRITICAL,
    "temperror": Severity.UNKNOWN,
}


def analyze_result(res: SpfResult) -> Finding:
    """One finding for an evaluation: the verdict, why, the DNS evidence and the fix."""
    info = kb.load("spf").by_id(f"result.{res.result}")
    explanation = f"{res.reason}.\n{info['meaning']}"
    if res.explanation:
        explanation += f"\nThe domain's explanation: {res.explanation}"
    evidence = [Evidence("dns", s.answer, source=s.query) for s in res.trace if s.action == "query"]
    if res.record:
        evidence.insert(0, Evidence("dns", res.record, source=f"{res.domain} SPF record"))
    evidence.append(Evidence("header", res.received_spf()))
    fixes = list(info.get("fix", []))
    suggested = suggest_record(res.record, res.ip) if res.result in ("fail", "softfail", "neutral") else None
    if suggested:
        fixes.insert(0, f"If {res.ip} is one of your senders, publish for {res.domain}: \"{suggested}\" - test it "
                        f"first: maildoctor spf check {res.ip} {res.sender} --record \"{suggested}\"")
    return Finding(
        id=f"spf.result.{res.result}",
        severity=RESULT_SEVERITY[res.result],
        title=f"SPF {res.result} for {res.ip} sending as {res.sender} ({res.identity})",
        explanation=explanation,
        evidence=tuple(evidence),
        fix=tuple(fixes),
        subject=res.domain,
        data={"result": res.result, "mechanism": res.mechanism, "lookups": res.lookups,
              "void_lookups": res.void_lookups},
    )


def render_check(console: Console, res: SpfResult, receiver: str = "") -> None:
    """The verdict, the full trace and the header lines a receiver would add."""
    console.print(f"[bold]SPF {res.result}[/]: {escape(res.reason)}")
    if res.explanation:
        console.print(f"explanation: {escape(res.explanation)}")
    console.print(f"lookups {res.lookups}/10, void lookups {res.void_lookups}/2\n")
    console.print("[bold]trace[/] (DNS-querying terms count against 10, void answers against 2)")
    previous = None
    for step in res.trace:
        console.print("  " + escape(step.render(previous)))
        previous = step
    console.print()
    console.print(escape(res.received_spf(receiver)))
    console.print(escape(res.authentication_results(receiver)))
    console.print()


def suggest_record(record: str, ip: str) -> str | None:
    """RECORD with ip4:/ip6: IP inserted before its 'all' (None when the record has no 'all' or is invalid)."""
    parsed = parse_record(record) if record else None
    if parsed is None or not parsed.ok:
        return None
    term = f"ip6:{ip}" if ":" in ip else f"ip4:{ip}"
    words = record.split()
    for i, w in enumerate(words):
        if w.lstrip("+-~?").lower() == "all":
            return " ".join([*words[:i], term, *words[i:]])
    return None
