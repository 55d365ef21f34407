"""Build the smallest valid SPF record for a domain from what is given and from who really sends.

IPs already covered by a/mx/include terms are not repeated; adjacent addresses are merged but
never widened to a guessed range. The record is kept within the 10-lookup limit: includes are
flattened into ip4/ip6 only when asked (flattened records go stale when the provider changes its
addresses). The built record is then checked with the evaluator against every observed sender.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from maildoctor import kb
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.net.dns import Resolver
from maildoctor.spf.evaluator import MAX_LOOKUPS, check_host, domain_problem
from maildoctor.spf.lint import lint_domain, render_tree
from maildoctor.spf.observed import ObservedSenders
from maildoctor.spf.record import is_spf_record, parse_record, split_strings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
POLICIES = {"fail": "-all", "softfail": "~all", "neutral": "?all"}
_LINT_CARRIED = ("syntax", "lookup_limit", "void_lookup", "void_limit", "include_no_record", "include_error",
                 "loop", "string_too_long", "udp_size", "mx_too_many")


@dataclass
class BuildResult:
    domain: str
    record: str
    lookups: int
    findings: list[Finding]
    zone_line: str
    verification: list[dict[str, Any]] = field(default_factory=list)
    flattened: list[str] = field(default_factory=list)
    published: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "record": self.record, "lookups": self.lookups, "zone_line": self.zone_line,
                "flattened": self.flattened, "published": self.published, "verification": self.verification}


def parse_networks(values: Sequence[str]) -> list[Network]:
    """--ip values (address or CIDR, optionally prefixed ip4:/ip6:); ValueError names the bad one."""
    nets: list[Network] = []
    for v in values:
        text = v.strip()
        for prefix in ("ip4:", "ip6:"):
            if text.lower().startswith(prefix):
                text = text[len(prefix):]
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"--ip {v!r} is not an IPv4/IPv6 address or network") from exc
    return nets


def zone_line(domain: str, record: str) -> str:
    """The record as a zone-file line, split into 255-character strings (RFC 7208 §3.3)."""
    return f"{domain}. 3600 IN TXT " + " ".join(f'"{c}"' for c in split_strings(record))



def _net_term(net: Network) -> str:
    full = net.prefixlen == net.max_prefixlen
    kind = "ip4" if net.version == 4 else "ip6"
    return f"{kind}:{net.network_address}" + ("" if full else f"/{net.prefixlen}")


def _compose(head: list[str], nets: list[Network], includes: list[str], policy: str) -> str:
    v4: list[Network] = list(ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv4Network)))
    v6: list[Network] = list(ipaddress.collapse_addresses(n for n in nets if isinstance(n, ipaddress.IPv6Network)))
    terms = head + [_net_term(n) for n in v4 + v6] + [f"include:{d}" for d in includes]
    return " ".join(["v=spf1", *terms, policy])


def flatten_include(resolver: Resolver, domain: str, depth: int = 0) -> list[Network] | None:
    """The networks an include stands for, or None when it cannot be flattened faithfully
    (macros, exists, ptr, non-pass qualifiers before the end, DNS errors, too deep)."""
    if depth > MAX_LOOKUPS or domain_problem(domain):
        return None
    ans = resolver.query(domain, "TXT")
    records = [r for r in ans.records if is_spf_record(r)]
    if ans.temporary or len(records) != 1:
        return None
    parsed = parse_record(records[0])
    if parsed.problems:
        return None
    nets: list[Network] = []
    for t in parsed.mechanisms:
        if t.name == "all":
            break
        if t.qualifier != "+" or t.name in ("exists", "ptr") or (t.argument and "%" in t.argument):
            return None
        if t.network is not None:
            nets.append(t.network)
        elif t.name == "include":
            inner = flatten_include(resolver, (t.argument or "").rstrip("."), depth + 1)
            if inner is None:
                return None
            nets += inner
        elif t.name in ("a", "mx"):
            target = (t.argument or domain).rstrip(".")
            hosts = [target]
            if t.name == "mx":
                mx = resolver.query(target, "MX")
                if mx.temporary:
                    return None
                hosts = [r.partition(" ")[2] for r in mx.records if r.partition(" ")[2]]
            for host in hosts:
                for rdtype, cidr in (("A", t.cidr4 if t.cidr4 is not None else 32),
                                     ("AAAA", t.cidr6 if t.cidr6 is not None else 128)):
                    a = resolver.query(host, rdtype)
                    if a.temporary:
                        return None
                    nets += [ipaddress.ip_network(f"{r}/{cidr}", strict=False) for r in a.records]
    redirect = parsed.modifier("redirect")
    if redirect is not None and not any(t.name == "all" for t in parsed.mechanisms):
        if not redirect.argument or "%" in redirect.argument:
            return None
        inner = flatten_include(resolver, redirect.argument.rstrip("."), depth + 1)
        if inner is None:
            return None
        nets += inner
    return nets


def _finding(rule: str, title: str, detail: str = "", evidence: tuple[Evidence, ...] = (),
             domain: str = "") -> Finding:
    entry = kb.load("spf").by_id(f"build.{rule}")
    return Finding(id=f"spf.build.{rule}", severity=Severity(entry["severity"]), title=title,
                   explanation=entry["why"] + (f"\n{detail}" if detail else ""), evidence=evidence,
                   fix=tuple(entry.get("fix", [])), subject=domain)


def build_record(
    resolver: Resolver,
    domain: str,
    *,
    ips: Sequence[str] = (),
    includes: Sequence[str] = (),
    mx: bool = False,
    a: bool = False,
    observed: ObservedSenders | None = None,
    flatten: bool = False,
    policy: str = "softfail",
) -> BuildResult:
    domain = domain.rstrip(".").lower()
    findings: list[Finding] = []
    head = [t for t, on in (("a", a), ("mx", mx)) if on]
    nets = parse_networks(ips)
    incs = [d.rstrip(".").lower() for d in includes]
    all_term = POLICIES[policy]
    sender = f"postmaster@{domain}"
    observed_ips = list(observed.senders) if observed is not None else []
    # observed senders that the terms so far do not cover get their own ip4/ip6
    draft = _compose(head, nets, incs, "-all")
    for ip in observed_ips:
        if check_host(resolver, ip, sender, record=draft, receiver="build").result != "pass":
            nets.append(ipaddress.ip_network(ip))
            draft = _compose(head, nets, incs, "-all")
    record = _compose(head, nets, incs, all_term)
    report = lint_domain(resolver, domain, record)
    flattened: list[str] = []
    while report.lookups > MAX_LOOKUPS and flatten and incs:
        costs = {c.term[len("include:"):]: c.total for c in report.tree.children if c.term.startswith("include:")}
        candidates = sorted((d for d in incs if d in costs), key=lambda d: -costs[d])
        for d in candidates:
            flat = flatten_include(resolver, d)
            if flat is not None:
                incs.remove(d)
                nets += flat
                flattened.append(d)
                break
        else:
            break
        record = _compose(head, nets, incs, all_term)
        report = lint_domain(resolver, domain, record)
    if flattened:
        findings.append(_finding("flattened", f"Flattened {', '.join(flattened)} into ip4/ip6 terms",
                                 f"{len(flattened)} include(s) replaced by the addresses they publish today.",
                                 domain=domain))
    tree = "\n".join(render_tree(report.tree))
    findings += [f for f in report.findings if f.id.removeprefix("spf.lint.") in _LINT_CARRIED]
    if report.lookups > MAX_LOOKUPS and not flattened:
        findings.append(_finding("over_limit", f"The record needs {report.lookups} DNS lookups (limit 10)",
                                 "Rerun with --flatten, or drop includes.", (Evidence("text", tree, source="tree"),),
                                 domain))
    verification: list[dict[str, Any]] = []
    checks = [(ip, "observed") for ip in observed_ips] + [(str(n.network_address), "--ip") for n in parse_networks(ips)]
    for ip, origin in checks:
        res = check_host(resolver, ip, sender, record=record, receiver="build")
        row: dict[str, Any] = {"ip": ip, "origin": origin, "result": res.result, "mechanism": res.mechanism}
        if observed is not None and ip in observed.senders:
            row["messages"] = observed.senders[ip]
        verification.append(row)
        if res.result != "pass":
            findings.append(_finding("sender_fails", f"{ip} ({origin}) gets {res.result} with the built record",
                                     res.reason, domain=domain))
    published = ""
    pub = resolver.query(domain, "TXT")
    pub_records = [r for r in pub.records if is_spf_record(r)]
    if len(pub_records) == 1:
        published = pub_records[0]
        failing = [ip for ip in observed_ips
                   if check_host(resolver, ip, sender, receiver="build").result not in ("pass",)]
        if failing:
            ev = tuple(Evidence("log", observed.evidence[ip][2], observed.evidence[ip][0], observed.evidence[ip][1])
                       for ip in failing[:10] if observed is not None and ip in observed.evidence)
            findings.append(_finding("published_misses", f"The published record does not pass {len(failing)} of "
                                     f"{len(observed_ips)} observed senders: {', '.join(failing[:10])}",
                                     f"Published: {published}", ev, domain))
    line = zone_line(domain, record)
    detail = (f"{report.lookups}/{MAX_LOOKUPS} DNS lookups, {len(record)} characters; "
              f"{sum(1 for v in verification if v['result'] == 'pass')}/{len(verification)} checked senders pass.")
    if published:
        built_terms = set(record.lower().split())
        dropped = [t for t in published.split()[1:] if t.lower() not in built_terms and not t.lower().endswith("all")]
        if dropped:
            detail += (f"\nNot carried over from the published record: {' '.join(dropped)} (add them with --ip/"
                       "--include/--a/--mx if those hosts still send mail).")
    findings.append(_finding("record", f"SPF record for {domain}: {record}", detail,
                             (Evidence("text", line, source="zone file"),), domain))
    return BuildResult(domain, record, report.lookups, findings, line, verification, flattened, published)
