"""doctor: the mail queue's size, frozen messages and the spool's disk (with the log's growth)."""

from __future__ import annotations

from maildoctor.doctor import DoctorContext, doctor_check
from maildoctor.model import Finding
from maildoctor.outbreak.run import cached_outbreak_report
from maildoctor.queue.render import queue_findings


@doctor_check("queue")
def check_queue(ctx: DoctorContext) -> list[Finding]:
    rep = cached_outbreak_report(ctx.root)
    if rep is None:
        return []
    q = rep.queue
    return queue_findings(q.read, q.shape, q.disk, q.growth)
