"""Amazon SES notifications delivered by email as SNS JSON (Bounce, Complaint, Delivery)."""

from __future__ import annotations

import json
from typing import Any

from maildoctor.bounce.agents import AgentResult, register
from maildoctor.bounce.mime import Mail
from maildoctor.bounce.model import RawRecipient


def sniff(mail: Mail) -> bool:
    return "amazonaws.com" in mail.header("from") and '"notificationType"' in mail.body.replace("\n ", "")


def _json(body: str) -> dict[str, Any] | None:
    text = body.replace("\n ", "")  # SNS folds long lines with a leading space
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end <= start:
        return None
    for stop in range(end, start, -1):
        if text[stop] != "}":
            continue
        try:
            value = json.loads(text[start : stop + 1])
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None


@register("AmazonSES", 5, sniff)
def parse(mail: Mail) -> AgentResult | None:
    doc = _json(mail.body)
    if doc is None:
        return None
    ntype = str(doc.get("notificationType", doc.get("eventType", "")))
    out: list[RawRecipient] = []
    if ntype == "Bounce":
        b = doc.get("bounce", {})
        for rcpt in b.get("bouncedRecipients", []):
            r = RawRecipient(
                address=str(rcpt.get("emailAddress", "")),
                action=str(rcpt.get("action", "failed")),
                status=str(rcpt.get("status", "")),
                diagnostic=str(rcpt.get("diagnosticCode", "")),
                diagnostic_type="SMTP",
                remote_mta=str(b.get("remoteMtaIp", "")),
            )
            if b.get("bounceSubType") == "Suppressed":
                r.reason, r.rule, r.rule_text = "suppressed", "amazonses.suppressed", "Suppressed"
            out.append(r)
        return AgentResult(out, kind="failure", reporting_mta=str(b.get("reportingMTA", "")))
    if ntype == "Complaint":
        c = doc.get("complaint", {})
        ftype = str(c.get("complaintFeedbackType", "abuse"))
        for rcpt in c.get("complainedRecipients", []):
            out.append(RawRecipient(address=str(rcpt.get("emailAddress", "")), reason="feedback",
                                    rule="amazonses.complaint", rule_text=ftype, feedback_type=ftype))  # fmt: skip
        return AgentResult(out, kind="feedback")
    if ntype == "Delivery":
        d = doc.get("delivery", {})
        for addr in d.get("recipients", []):
            diag = str(d.get("smtpResponse", ""))
            out.append(RawRecipient(address=str(addr), action="delivered", status="2.6.0", diagnostic=diag,
                                    reason="delivered", rule="amazonses.delivery", rule_text="Delivery"))  # fmt: skip
        return AgentResult(out, kind="not_bounce", reporting_mta=str(d.get("reportingMTA", "")))
    return None
