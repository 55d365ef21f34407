"""SPF (RFC 7208): the check_host() evaluator with a trace, record lint and a record builder.

    from maildoctor.net.dns import make_resolver
    from maildoctor.spf import check_host
    res = check_host(make_resolver("127.0.0.1:53"), "192.0.2.1", "alice@example.com", "mail.example.net")
    res.result, res.reason, res.received_spf(), [s.render() for s in res.trace]
"""

from __future__ import annotations

from maildoctor.spf.evaluator import check_host
from maildoctor.spf.record import parse_record
from maildoctor.spf.result import SpfResult, TraceStep

__all__ = ["SpfResult", "TraceStep", "check_host", "parse_record"]
