"""Hand SPF rejections to the SPF evaluator, only against a DNS server the user named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from maildoctor.bounce.model import Bounce, LocalCause


def _evaluate(cause: LocalCause, dns_server: str) -> LocalCause:
    ip = str(cause.detail.get("ip", ""))
    sender = str(cause.detail.get("sender", ""))
    if not ip or not sender:
        return cause
    try:
        from maildoctor.net.dns import make_resolver
        from maildoctor.spf.evaluator import check_host

        result = check_host(make_resolver(dns_server), ip, sender)
    except Exception as exc:  # the evaluator or resolver failing must not lose the bounce report
        return replace(cause, detail={**cause.detail, "spf_error": f"{type(exc).__name__}: {exc}"})
    detail = {**cause.detail, "spf_result": result.result, "spf_reason": result.reason, "spf_record": result.record}
    summary = f"{cause.summary}; SPF says {result.result}: {result.reason}"
    return replace(cause, summary=summary, detail=detail)


def evaluate_spf_causes(bounces: Sequence[Bounce], dns_server: str) -> list[Bounce]:
    out = []
    for b in bounces:
        rs = tuple(
            replace(r, local_cause=_evaluate(r.local_cause, dns_server))
            if r.local_cause is not None and r.local_cause.kind == "spf"
            else r
            for r in b.recipients
        )
        out.append(replace(b, recipients=rs))
    return out
