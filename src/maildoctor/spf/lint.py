"""Lint a published (or draft) SPF record: every problem with its severity, evidence and fix.

The include/redirect tree is walked once, counting what each branch costs in DNS lookups, so the
report can say which include pushes the record over the 10-lookup limit. Rules, texts and fixes
are in `kb/spf.toml` (entries `lint.*`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maildoctor import kb
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.net.dns import DnsAnswer, Resolver
from maildoctor.spf.evaluator import MAX_LOOKUPS, MAX_NAMES, MAX_VOID, domain_problem
from maildoctor.spf.record import ParsedRecord, Term, is_spf_record, parse_record, split_strings

MAX_STRING = 255
UDP_GUIDELINE = 450  # RFC 7208 §3.4: name + text of all records of the type under 450 octets


@dataclass
class LookupNode:
    """One DNS-querying term and what it costs, with the terms of the record it leads to."""

    term: str
    domain: str  # the record the term is in
    cost: int = 1
    children: list[LookupNode] = field(default_factory=list)
    note: str = ""

    @property
    def total(self) -> int:
        return self.cost + sum(c.total for c in self.children)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"term": self.term, "domain": self.domain, "cost": self.cost, "total": self.total}
        if self.note:
            out["note"] = self.note
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


@dataclass
class LintReport:
    domain: str
    record: str
    findings: list[Finding]
    tree: LookupNode
    lookups: int
    void_lookups: int

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "record": self.record, "lookups": self.lookups,
                "void_lookups": self.void_lookups, "lookup_tree": self.tree.to_dict()}


def render_tree(node: LookupNode, prefix: str = "", last: bool = True, root: bool = True) -> list[str]:
    """The include tree as text lines: which term costs how many lookups."""
    if root:
        lines = [f"{node.term}  {node.total - node.cost}/{MAX_LOOKUPS} DNS lookups"]
        child_prefix = ""
    else:
        nested = node.total - node.cost
        cost = f"{node.total}" + (f" (1 + {nested} nested)" if nested else "")
        note = f"  [{node.note}]" if node.note else ""
        lines = [f"{prefix}{'└── ' if last else '├── '}{node.term}  {cost}{note}"]
        child_prefix = prefix + ("    " if last else "│   ")
    for i, child in enumerate(node.children):
        lines += render_tree(child, child_prefix, i == len(node.children) - 1, root=False)
    return lines


class _Linter:
    def __init__(self, resolver: Resolver, domain: str) -> None:
        self.resolver = resolver
        self.domain = domain
        self.findings: list[Finding] = []
        self.voids: list[str] = []
        self.rules = kb.load("spf")

    def add(self, rule: str, title: str, detail: str = "", evidence: tuple[Evidence, ...] = (),
            subject: str = "", severity: Severity | None = None, fix: tuple[str, ...] = ()) -> None:
        entry = self.rules.by_id(f"lint.{rule}")
        explanation = entry["why"] + (f"\n{detail}" if detail else "")
        self.findings.append(Finding(
            id=f"spf.lint.{rule}", severity=severity or Severity(entry["severity"]),
            title=title or entry["title"], explanation=explanation, evidence=evidence,
            fix=fix or tuple(entry.get("fix", [])), subject=subject or self.domain,
        ))

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        return self.resolver.query(name, rdtype)

    def fetch(self, domain: str) -> tuple[list[str], DnsAnswer]:
        ans = self.query(domain, "TXT")
        return [r for r in ans.records if is_spf_record(r)], ans

    # -- the record itself --------------------------------------------------------------------
    def check_record(self, domain: str, parsed: ParsedRecord) -> None:
        rec = parsed.text
        for p in parsed.problems:
            caret = " " * p.position + "^"
            self.add("syntax", f"Syntax error in the SPF record of {domain}: {p.message}",
                     f"Position {p.position + 1}" + (f", term '{p.term}'" if p.term else "") + ".",
                     (Evidence("dns", rec, source=f"{domain} TXT"), Evidence("text", caret, source="position")),
                     subject=domain)
        mechs = parsed.mechanisms
        for i, t in enumerate(mechs):
            if t.name == "all":
                if t.qualifier == "+":
                    self.add("all_pass", "", f"The record of {domain} ends with '{t.text}'.",
                             (Evidence("dns", rec, source=f"{domain} TXT"),), subject=domain)
                elif t.qualifier == "?":
                    self.add("all_neutral", "", f"The record of {domain} ends with '{t.text}'.",
                             (Evidence("dns", rec, source=f"{domain} TXT"),), subject=domain)
                after = [x.text for x in mechs[i + 1:]] + [
                    x.text for x in parsed.terms if x.kind == "modifier"
                    and (x.name == "redirect" or (x.name != "exp" and x.position > t.position))]
                if after:
                    self.add("after_all", "", f"Never evaluated: {' '.join(after)}",
                             (Evidence("dns", rec, source=f"{domain} TXT"),), subject=domain)
                break
            if t.name == "ptr":
                self.add("ptr", "", f"'{t.text}' in the record of {domain}.",
                         (Evidence("dns", rec, source=f"{domain} TXT"),), subject=domain)
        for t in parsed.terms:
            if t.kind == "modifier" and t.name not in ("redirect", "exp"):
                self.add("unknown_modifier", f"Unknown modifier '{t.text}' in the record of {domain}",
                         evidence=(Evidence("dns", rec, source=f"{domain} TXT"),), subject=domain)
        if not any(t.name == "all" for t in mechs) and parsed.modifier("redirect") is None and parsed.ok:
            self.add("no_all", "", f"The record of {domain} ends without a policy for other IPs.",
                     (Evidence("dns", rec, source=f"{domain} TXT"),), subject=domain)
        self.check_networks(domain, mechs)

    def check_networks(self, domain: str, mechs: tuple[Term, ...]) -> None:
        nets = [(t, t.network) for t in mechs if t.network is not None]
        for i, (t, net) in enumerate(nets):
            for u, other in nets[:i]:
                if net is None or other is None or net.version != other.version:
                    continue
                if net == other or net.subnet_of(other):  # type: ignore[arg-type]
                    what = "repeats" if net == other else "is inside"
                    self.add("duplicate_network", f"'{t.text}' {what} '{u.text}'", subject=domain)
                    break
                if other.subnet_of(net):  # type: ignore[arg-type]
                    self.add("duplicate_network", f"'{u.text}' is inside '{t.text}'", subject=domain)
                    break

    def check_strings(self, domain: str, ans: DnsAnswer, record: str, draft: bool) -> None:
        strings = [list(s) for s in ans.strings]
        if draft:
            strings = [s for s in strings if not is_spf_record("".join(s))] + [[record]]
        for parts in strings:
            for s in parts:
                if len(s) > MAX_STRING and is_spf_record("".join(parts)):
                    split = " ".join(f'"{c}"' for c in split_strings(s, MAX_STRING))
                    self.add("string_too_long", f"A TXT string of {len(s)} characters (limit 255)",
                             "Publish it as: " + split, (Evidence("text", s[:80] + "...", source=f"{domain} TXT"),),
                             fix=(f"Publish: {domain}. IN TXT {split}",))
        size = _answer_size(domain, strings)
        if size > UDP_GUIDELINE:
            self.add("udp_size", f"{domain} and its TXT records total {size} octets (guideline: under 450)",
                     f"{len(strings)} TXT records at {domain}; the DNS answer may not fit a 512-byte UDP reply.")

    # -- lookups ------------------------------------------------------------------------------
    def void(self, node: LookupNode, ans: DnsAnswer, term: str, domain: str) -> None:
        if ans.void:
            self.voids.append(f"{term} ({ans.describe()})")
            node.note = "void lookup: " + ans.status + ("" if ans.status != "NOERROR" else " with no data")
            self.add("void_lookup", f"'{term}' in {domain}: {ans.name} {ans.rdtype} is void ({ans.status})",
                     evidence=(Evidence("dns", ans.describe(), source=f"{ans.name} {ans.rdtype}"),), subject=domain)

    def walk(self, domain: str, parsed: ParsedRecord, node: LookupNode, stack: tuple[str, ...]) -> None:
        mechs = parsed.mechanisms
        for t in mechs:
            if not t.counts_lookup:
                continue
            child = LookupNode(t.text, domain)
            node.children.append(child)
            target = t.argument if t.argument is not None else domain
            if "%" in target:
                child.note = "depends on the sender (macro); not followed"
                continue
            target = target.rstrip(".")
            if t.name == "include":
                self.follow(domain, t, target, child, stack, "include_no_record")
            elif t.name == "a":
                answers = [self.query(target, "A"), self.query(target, "AAAA")]
                if all(a.void for a in answers):
                    self.void(child, answers[0], t.text, domain)
            elif t.name == "mx":
                ans = self.query(target, "MX")
                self.void(child, ans, t.text, domain)
                if len(ans.records) > MAX_NAMES:
                    self.add("mx_too_many", f"'{t.text}' in {domain}: {len(ans.records)} MX records",
                             evidence=(Evidence("dns", ans.describe(), source=f"{target} MX"),), subject=domain)
            elif t.name == "exists":
                self.void(child, self.query(target, "A"), t.text, domain)
        redirect = parsed.modifier("redirect")
        if redirect is not None and redirect.argument and not any(t.name == "all" for t in mechs):
            child = LookupNode(redirect.text, domain)
            node.children.append(child)
            if "%" in redirect.argument:
                child.note = "depends on the sender (macro); not followed"
            else:
                self.follow(domain, redirect, redirect.argument.rstrip("."), child, stack, "redirect_no_record")

    def follow(self, domain: str, term: Term, target: str, node: LookupNode, stack: tuple[str, ...],
               missing_rule: str) -> None:
        if target.lower() in stack:
            node.note = "loop"
            self.add("loop", f"'{term.text}' in {domain} leads back to {target}",
                     " -> ".join((*stack, target.lower())), subject=domain)
            return
        if domain_problem(target):
            node.note = "not a valid domain"
            self.add(missing_rule, f"'{term.text}' in {domain}: {domain_problem(target)}", subject=domain)
            return
        records, ans = self.fetch(target)
        if ans.temporary:
            node.note = f"DNS {ans.status}"
            self.add("include_error", f"'{term.text}' in {domain}: {target} TXT lookup failed ({ans.status})",
                     evidence=(Evidence("dns", ans.describe(), source=f"{target} TXT"),), subject=domain)
            return
        if not records:
            node.note = "no SPF record"
            self.add(missing_rule, f"'{term.text}' in {domain}: {target} has no SPF record",
                     evidence=(Evidence("dns", ans.describe(), source=f"{target} TXT"),), subject=domain)
            return
        if len(records) > 1:
            self.add("multiple_records", f"{target} (included by {domain}) has {len(records)} SPF records",
                     evidence=tuple(Evidence("dns", r, source=f"{target} TXT") for r in records), subject=target)
        parsed = parse_record(records[0])
        if parsed.problems:
            self.check_record(target, parsed)
            node.note = "syntax error"
            return
        self.walk(target, parsed, node, (*stack, target.lower()))


def _answer_size(domain: str, strings: list[list[str]]) -> int:
    """The RFC 7208 §3.4 measure: the DNS name plus the text of every TXT record at it."""
    return len(domain.rstrip(".")) + sum(len(s.encode("utf-8", errors="replace")) for parts in strings for s in parts)


def lint_domain(resolver: Resolver, domain: str, record: str | None = None) -> LintReport:
    """Lint the SPF record of DOMAIN (or the draft RECORD for it)."""
    domain = domain.rstrip(".")
    lint = _Linter(resolver, domain)
    records, ans = lint.fetch(domain)
    root = LookupNode(domain, domain, cost=0)
    if ans.temporary and record is None:
        lint.add("include_error", f"TXT lookup for {domain} failed ({ans.status})",
                 evidence=(Evidence("dns", ans.describe(), source=f"{domain} TXT"),))
        return LintReport(domain, "", lint.findings, root, 0, 0)
    spf_rr = resolver.query(domain, "SPF")
    if spf_rr.ok and spf_rr.records:
        differs = set(spf_rr.records) != set(records)
        lint.add("spf_rr", "", "It differs from the TXT record." if differs else "It repeats the TXT record.",
                 (Evidence("dns", spf_rr.describe(), source=f"{domain} SPF"),),
                 severity=Severity.WARNING if differs else None)
    if record is None:
        if not records:
            lint.add("no_record", f"{domain} publishes no SPF record",
                     evidence=(Evidence("dns", ans.describe(), source=f"{domain} TXT"),))
            return LintReport(domain, "", lint.findings, root, 0, 0)
        if len(records) > 1:
            lint.add("multiple_records", f"{domain} publishes {len(records)} SPF records",
                     evidence=tuple(Evidence("dns", r, source=f"{domain} TXT") for r in records))
        record = records[0]
    lint.check_strings(domain, ans, record, draft=record not in records)
    parsed = parse_record(record)
    lint.check_record(domain, parsed)
    if parsed.ok:
        lint.walk(domain, parsed, root, (domain.lower(),))
    total = root.total
    tree_text = "\n".join(render_tree(root))
    if total > MAX_LOOKUPS:
        worst = max(root.children, key=lambda c: c.total, default=None)
        lint.add("lookup_limit", f"{total} DNS lookups (limit {MAX_LOOKUPS})",
                 f"The costliest term is '{worst.term}' ({worst.total})." if worst else "",
                 (Evidence("text", tree_text, source="lookup tree"),))
    elif total >= MAX_LOOKUPS - 1:
        lint.add("lookup_near_limit", f"{total} of {MAX_LOOKUPS} DNS lookups used",
                 evidence=(Evidence("text", tree_text, source="lookup tree"),))
    if len(lint.voids) > MAX_VOID:
        lint.add("void_limit", f"{len(lint.voids)} void lookups (limit {MAX_VOID})", "; ".join(lint.voids))
    if not any(f.severity.is_problem or f.severity == Severity.UNKNOWN for f in lint.findings):
        lint.add("ok", f"The SPF record of {domain} is valid ({total}/{MAX_LOOKUPS} lookups)",
                 evidence=(Evidence("dns", record, source=f"{domain} TXT"),))
    return LintReport(domain, record, lint.findings, root, total, len(lint.voids))
