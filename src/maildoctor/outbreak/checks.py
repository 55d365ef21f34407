"""doctor: compromised senders (scripts, mailboxes, users, IPs) found in the server's main log."""

from __future__ import annotations

from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.model import Finding
from maildoctor.outbreak.findings import outbreak_findings
from maildoctor.outbreak.run import cached_outbreak_report


@doctor_check("outbreak")
def check_outbreak(ctx: DoctorContext) -> list[Finding]:
    rep = cached_outbreak_report(ctx.root)
    if rep is None or not rep.logs:
        return []
    return [f for f in outbreak_findings(rep) if f.id.startswith("outbreak.")]
