"""The outcome of one SPF evaluation, its trace, and the header lines a receiver adds for it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from maildoctor.net.dns import DnsAnswer

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")

_PVALUE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*@?[A-Za-z0-9.-]+$")  # RFC 8601 pvalue
_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of the evaluation: a DNS query, a record, a term and its outcome, a limit, the result."""

    depth: int  # include/redirect nesting (0 = the domain being checked)
    domain: str
    action: str  # check | query | record | term | match | void | limit | error | explanation | result
    text: str
    term: str = ""
    lookups: int = 0  # DNS-querying terms counted so far (limit 10)
    void_lookups: int = 0  # void answers so far (limit 2)
    dns: DnsAnswer | None = None  # the answer of a "query" step (rendered only when shown)

    @property
    def query(self) -> str:
        """'NAME TYPE' of a query step."""
        return f"{self.dns.name} {self.dns.rdtype}" if self.dns is not None else ""

    @property
    def answer(self) -> str:
        """Status and records of a query step, one line."""
        return self.dns.describe() if self.dns is not None else ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"depth": self.depth, "domain": self.domain, "action": self.action, "text": self.text}
        for key in ("term", "query", "answer"):
            value = getattr(self, key)
            if value:
                out[key] = value
        out["lookups"] = self.lookups
        out["void_lookups"] = self.void_lookups
        return out

    def render(self, previous: TraceStep | None = None) -> str:
        """One trace line, indented by nesting; the counters are shown when they change."""
        text = f"DNS {self.answer}" if self.action == "query" else self.text
        if self.action == "record" and self.text.startswith("record: "):
            text = f"record of {self.domain}: {self.text[len('record: '):]}"
        marks = []
        if previous is None or self.lookups != previous.lookups:
            marks.append(f"lookups {self.lookups}/10")
        if previous is not None and self.void_lookups != previous.void_lookups:
            marks.append(f"void {self.void_lookups}/2")
        return f"{'  ' * self.depth}{text}" + (f"   [{', '.join(marks)}]" if marks else "")


@dataclass(frozen=True, slots=True)
class SpfResult:
    result: str
    ip: str
    sender: str  # the full identity checked ("postmaster@helo" for the HELO identity)
    domain: str
    identity: str  # "mailfrom" | "helo"
    helo: str = ""
    mechanism: str = ""  # the term that decided ("default" when none matched, "" when no record)
    explanation: str = ""  # the exp= text (or the default) for fail
    problem: str = ""  # why permerror / temperror / none
    reason: str = ""  # one sentence: why the result is what it is
    record: str = ""  # the record of DOMAIN that was evaluated
    lookups: int = 0
    void_lookups: int = 0
    trace: tuple[TraceStep, ...] = field(default=())

    def comment(self, receiver: str = "") -> str:
        who = f"{receiver}: " if receiver else ""
        ip, d = self.ip, self.domain
        # libspf2's wording (what Exim writes), so the two can be compared line by line
        text = {
            "pass": f"domain of {d} designates {ip} as permitted sender",
            "fail": f"domain of {d} does not designate {ip} as permitted sender",
            "softfail": f"transitioning domain of {d} does not designate {ip} as permitted sender",
            "neutral": f"{ip} is neither permitted nor denied by domain of {d}",
            "none": f"domain of {d} does not provide an SPF record",
            "permerror": f"error in processing during lookup of domain of {d}: {self.problem}",
            "temperror": f"encountered temporary error during SPF processing of domain of {d}: {self.problem}",
        }[self.result]
        return f"{who}{text}"

    def received_spf(self, receiver: str = "") -> str:
        """The Received-SPF header line (RFC 7208 §9.1)."""
        pairs = [("client-ip", self.ip), ("envelope-from", self.sender)]
        if self.helo:
            pairs.append(("helo", self.helo))
        if self.problem and self.result in ("permerror", "temperror"):
            pairs.append(("problem", self.problem))
        if receiver:
            pairs.append(("receiver", receiver))
        pairs.append(("identity", self.identity))
        if self.mechanism:
            pairs.append(("mechanism", self.mechanism))
        kv = "; ".join(f"{k}={_value(v)}" for k, v in pairs)
        return f"Received-SPF: {self.result} ({_comment_safe(self.comment(receiver))}) {kv};"

    def authentication_results(self, authserv_id: str = "") -> str:
        """The Authentication-Results header line (RFC 8601 §2.7.2)."""
        value = self.helo if self.identity == "helo" else self.sender
        prop = f"smtp.{self.identity}={value if _PVALUE.match(value) else _value(value)}"
        comment = _comment_safe(self.comment())
        return f"Authentication-Results: {authserv_id or 'localhost'}; spf={self.result} ({comment}) {prop}"

    def to_dict(self, receiver: str = "") -> dict[str, Any]:
        return {
            "result": self.result,
            "explanation": self.explanation,
            "mechanism": self.mechanism,
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
            "trace": [s.to_dict() for s in self.trace],
            "received_spf": self.received_spf(receiver),
            "authentication_results": self.authentication_results(receiver),
            "ip": self.ip,
            "sender": self.sender,
            "helo": self.helo,
            "domain": self.domain,
            "identity": self.identity,
            "record": self.record,
            "problem": self.problem,
            "reason": self.reason,
        }


def _value(v: str) -> str:
    if v and _DOT_ATOM.match(v):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _comment_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("\n", " ")
