"""`maildoctor address`: one address's route as findings, plus `exim -bt` explained and compared."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from maildoctor.forwarders.analyze import server_path
from maildoctor.forwarders.eximbt import compare_route, explain_bt_item, parse_exim_bt
from maildoctor.forwarders.pipes import analyze_pipe, owners_trusted, read_pipe_facts
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.server.accounts import find_account
from maildoctor.server.routing import Delivery, route_address

_SEVERITY = {
    "mailbox": Severity.OK,
    "remote": Severity.OK,
    "pipe": Severity.OK,
    "file": Severity.OK,
    "fail": Severity.WARNING,
    "blackhole": Severity.WARNING,
    "defer": Severity.WARNING,
    "unrouteable": Severity.WARNING,
    "loop": Severity.WARNING,
}


def describe(d: Delivery) -> str:
    if d.kind == "mailbox":
        missing = "" if d.exists is not False else " (the maildir is missing: Exim creates it on first delivery)"
        return f"delivered to the mailbox of {d.address}: {d.value}{missing}"
    if d.kind == "pipe":
        return f"piped to |{d.value} (runs as {d.account or 'the domain owner'})"
    if d.kind == "file":
        return f"appended to the file {d.value}"
    if d.kind == "fail":
        return f'rejected: senders get "{d.value or "forced failure"}" (a :fail: forwarder)'
    if d.kind == "blackhole":
        return "accepted and silently discarded (:blackhole:)"
    if d.kind == "defer":
        return f"deferred: {d.value}"
    if d.kind == "remote":
        return f"sent to another server for {d.value} (dnslookup)"
    if d.kind == "loop":
        return f"forwarding goes round in circles ({d.value})"
    return "unrouteable: no mailbox, no forwarder and no default address; senders get 'Unrouteable address'"


def diagnose_address(root: Path, address: str, bt_text: str | None = None) -> tuple[list[Finding], dict[str, Any]]:
    route = route_address(root, address)
    findings: list[Finding] = []
    deliveries = []
    for d in route.deliveries:
        if d.kind == "mailbox":
            d = replace(d, value=server_path(root, d.value))
        evs = tuple(
            Evidence("file", h.raw, server_path(root, h.file) if h.file else "", h.line) for h in d.hops if h.file
        )
        summary = describe(d)
        sev = _SEVERITY.get(d.kind, Severity.INFO)
        if d.kind == "mailbox" and d.exists is False:
            sev = Severity.INFO
        if d.loop:
            sev = Severity.WARNING
            summary += f" after a forwarding loop ({' -> '.join(d.loop)})"
        findings.append(
            Finding(
                id=f"address.{d.kind}",
                severity=sev,
                title=f"{address}: {summary}",
                explanation=" -> ".join(d.chain),
                evidence=evs,
                subject=address,
                data={"kind": d.kind, "value": d.value, "account": d.account},
            )
        )
        if d.kind == "pipe":
            acct = find_account(root, d.account) if d.account else None
            where = evs[-1] if evs else Evidence("text", f"|{d.value}")
            facts = read_pipe_facts(root, d.value)
            findings.extend(analyze_pipe(root, facts, acct, d.address, where, owners_trusted(root, acct)))
        deliveries.append(
            {
                "kind": d.kind,
                "address": d.address,
                "value": d.value,
                "account": d.account,
                "summary": summary,
                "chain": list(d.chain),
                "loop": list(d.loop),
                "hops": [
                    {
                        "address": h.address,
                        "via": h.via,
                        "where": f"{server_path(root, h.file)}:{h.line}" if h.file else "",
                        "raw": h.raw,
                    }
                    for h in d.hops
                ],
            }
        )
    data: dict[str, Any] = {"address": address, "root": str(root), "deliveries": deliveries}
    if bt_text is not None:
        items = parse_exim_bt(bt_text)
        diffs = compare_route(route, items) if items else ["exim -bt output has no result lines"]
        data["exim_bt"] = {
            "items": [
                {
                    "address": i.address,
                    "kind": i.kind,
                    "detail": i.detail,
                    "router": i.router,
                    "transport": i.transport,
                    "parents": list(i.parents),
                }
                for i in items
            ],
            "explained": [explain_bt_item(i) for i in items],
            "agrees": not diffs,
            "differences": diffs,
        }
        if diffs:
            findings.append(
                Finding(
                    id="address.exim_disagrees",
                    severity=Severity.WARNING,
                    title=f"exim -bt routes {address} differently from the files maildoctor read",
                    explanation="The running Exim may use a configuration or files other than the ones under the "
                    "root (another valiases path, a router maildoctor does not model, or a stale copy).",
                    evidence=tuple(Evidence("command", t) for t in diffs),
                    subject=address,
                )
            )
    return findings, data
