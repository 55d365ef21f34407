"""Doctor checks: forwarder, alias and pipe problems on the server root."""

from __future__ import annotations

from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.forwarders.analyze import diagnose_forwarders
from maildoctor.model import Finding, Severity


@doctor_check("forwarders")
def check_forwarders(ctx: DoctorContext) -> list[Finding]:
    """Everything `maildoctor forwarders` finds; quiet when the root has no alias files at all."""
    findings, data = diagnose_forwarders(ctx.root)
    if not data["entries"] and not findings:
        return []
    # Per-address :fail:/:blackhole: entries are deliberate settings, not worth a line in triage.
    quiet = {"forwarders.fail_entry", "forwarders.blackhole_entry"}
    return [f for f in findings if not (f.id in quiet and f.severity is Severity.INFO)]
