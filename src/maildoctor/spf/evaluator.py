"""RFC 7208 check_host() with a trace of every step.

Every DNS query goes through a `maildoctor.net.dns.Resolver`; every query, term, counter and
decision is recorded as a `TraceStep`, so the output says *why* the result is what it is.
Hostile records end in permerror: the 10-lookup and 2-void limits bound the work, macro output
is truncated to 253 characters (§7.3) and nothing recurses without counting a lookup.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from functools import lru_cache

from maildoctor.net.dns import DnsAnswer, Resolver, name_problem, reverse_name
from maildoctor.spf.macros import IPAddress, MacroEnv, MacroError, expand_domain, expand_macros
from maildoctor.spf.record import ParsedRecord, Term, is_spf_record, parse_record
from maildoctor.spf.result import SpfResult, TraceStep

MAX_LOOKUPS = 10  # RFC 7208 §4.6.4
MAX_VOID = 2  # RFC 7208 §4.6.4
MAX_NAMES = 10  # MX exchanges / PTR names per mechanism (§4.6.4)
TIME_LIMIT = 20.0  # seconds for the whole evaluation; RFC 7208 §4.6.4 asks for at least 20
DEFAULT_EXPLANATION = "%{i} is not one of %{d}'s designated mail servers"


class SpfError(Exception):
    """Ends the evaluation with RESULT (permerror / temperror) and a reason."""

    def __init__(self, result: str, message: str) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class _Outcome:
    result: str
    mechanism: str
    record: ParsedRecord | None
    domain: str


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> IPAddress:
    """The client IP; IPv4-mapped IPv6 (::ffff:a.b.c.d) is evaluated as IPv4 (RFC 7208 §5)."""
    addr = ipaddress.ip_address(text.strip().strip("[]"))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def split_sender(sender: str, helo: str) -> tuple[str, str, str]:
    """(identity, local-part, domain). An empty MAIL FROM checks postmaster@HELO (RFC 7208 §2.4, §4.3)."""
    sender = sender.strip()
    if sender.startswith("<") and sender.endswith(">"):
        sender = sender[1:-1]
    if not sender:
        return "helo", "postmaster", helo.rstrip(".")
    local, at, domain = sender.rpartition("@")
    if not at:
        return "mailfrom", "postmaster", sender.rstrip(".")
    return "mailfrom", local or "postmaster", domain.rstrip(".")


def to_a_labels(domain: str) -> str:
    """An internationalised domain as A-labels (RFC 7208 §4.3); unchanged when ASCII or not encodable."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain  # domain_problem() then reports it and the result is none


def domain_problem(domain: str) -> str | None:
    """Why DOMAIN cannot be checked at all (RFC 7208 §4.3: result none), or None."""
    if domain.startswith("["):
        return f"'{domain}' is an address literal, not a domain"
    if "." not in domain:
        return f"'{domain}' is not a fully qualified domain name"
    if not domain.isascii():
        return f"'{domain}' cannot be written as A-labels"
    return name_problem(domain)


class _Evaluation:
    def __init__(self, resolver: Resolver, ip: IPAddress, env: MacroEnv, max_lookups: int, max_void: int,
                 time_limit: float = 20.0) -> None:
        self.resolver = resolver
        self.time_limit = time_limit
        self.deadline = time.monotonic() + time_limit
        self.ip = ip
        self.env = env
        self.max_lookups = max_lookups
        self.max_void = max_void
        self.lookups = 0
        self.voids = 0
        self.trace: list[TraceStep] = []
        self._ptr_cache: list[str] | None = None
        self.addr_type = "AAAA" if isinstance(ip, ipaddress.IPv6Address) else "A"
        self.ip_text = str(ip)

    # -- bookkeeping --------------------------------------------------------------------------
    def step(self, depth: int, domain: str, action: str, text: str, term: str = "",
             dns: DnsAnswer | None = None) -> None:
        self.trace.append(TraceStep(depth, domain, action, text, term, self.lookups, self.voids, dns))

    def query(self, depth: int, domain: str, name: str, rdtype: str, *, counts_void: bool = True) -> DnsAnswer:
        if time.monotonic() > self.deadline:
            raise SpfError("temperror", f"the evaluation took longer than {self.time_limit:g} s before querying "
                           f"{name} {rdtype} (RFC 7208 §4.6.4)")
        ans = self.resolver.query(name, rdtype)
        self.step(depth, domain, "query", f"DNS {name} {rdtype}", dns=ans)
        if counts_void and ans.void:
            self.voids += 1
            self.step(depth, domain, "void", f"void lookup {self.voids} of {self.max_void}: {name} {rdtype}")
            if self.voids > self.max_void:
                raise SpfError("permerror", f"more than {self.max_void} void DNS lookups (RFC 7208 §4.6.4)")
        return ans

    def count_lookup(self, depth: int, domain: str, term: Term) -> None:
        self.lookups += 1
        if self.lookups > self.max_lookups:
            self.step(depth, domain, "limit", f"'{term.text}' is DNS lookup {self.lookups}", term=term.text)
            raise SpfError("permerror", f"more than {self.max_lookups} DNS-querying terms (RFC 7208 §4.6.4); "
                           f"'{term.text}' in {domain} was lookup {self.lookups}")

    def target(self, term: Term, domain: str) -> str:
        env = self.env_for(domain)
        try:
            return expand_domain(term.argument if term.argument is not None else "%{d}", env)
        except MacroError as exc:
            raise SpfError("permerror", f"'{term.text}': {exc}") from exc

    def env_for(self, domain: str) -> MacroEnv:
        e = self.env
        return MacroEnv(e.local, e.sender_domain, domain, e.ip, e.helo, e.receiver, e.timestamp,
                        lambda: self.validated_name(domain), e.upper_hex)

    # -- check_host ---------------------------------------------------------------------------
    def fetch_record(self, depth: int, domain: str) -> str | None:
        ans = self.query(depth, domain, domain, "TXT", counts_void=False)
        if ans.temporary:
            raise SpfError("temperror", f"DNS {ans.status} looking up the SPF record of {domain}")
        records = [r for r in ans.records if is_spf_record(r)]
        if len(records) > 1:
            raise SpfError("permerror", f"{domain} has {len(records)} SPF records; RFC 7208 §4.5 allows one")
        return records[0] if records else None

    def check_host(self, depth: int, domain: str, record_text: str | None = None) -> _Outcome:
        problem = domain_problem(domain)
        if problem:
            self.step(depth, domain, "check", f"no check: {problem} (RFC 7208 §4.3)")
            return _Outcome("none", "", None, domain)
        if record_text is None:
            record_text = self.fetch_record(depth, domain)
            if record_text is None:
                self.step(depth, domain, "record", "no SPF record (RFC 7208 §4.5: result none)")
                return _Outcome("none", "", None, domain)
        else:
            self.step(depth, domain, "record", "using the record given on the command line instead of DNS")
        parsed = parse_record(record_text)
        self.step(depth, domain, "record", f"record: {record_text}")
        if parsed.problems:
            raise SpfError("permerror", f"syntax error in the record of {domain}: {parsed.problems[0]}")
        mechanisms = parsed.mechanisms
        for term in mechanisms:
            if term.counts_lookup:
                self.count_lookup(depth, domain, term)
            if self.match(depth, domain, term):
                self.step(depth, domain, "match", f"'{term.text}' matches: result {term.result}", term=term.text)
                return _Outcome(term.result, term.text, parsed, domain)
        redirect = parsed.modifier("redirect")
        if redirect is not None and not any(t.name == "all" for t in mechanisms):
            self.count_lookup(depth, domain, redirect)
            target = self.target(redirect, domain)
            self.step(depth, domain, "term", f"no mechanism matched; following {redirect.text} -> {target}",
                      term=redirect.text)
            if domain_problem(target) or (rec := self.fetch_record(depth + 1, target)) is None:
                raise SpfError("permerror", f"redirect target {target} has no SPF record (RFC 7208 §6.1)")
            return self.check_host(depth + 1, target, rec)
        if redirect is not None:
            self.step(depth, domain, "term", f"{redirect.text} ignored: the record has 'all' (RFC 7208 §6.1)")
        self.step(depth, domain, "match", "no mechanism matched: default result neutral (RFC 7208 §4.7)")
        return _Outcome("neutral", "default", parsed, domain)

    # -- mechanisms ---------------------------------------------------------------------------
    def match(self, depth: int, domain: str, term: Term) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            hit = term.network is not None and self.ip.version == term.network.version and self.ip in term.network
            network = term.text.split(":", 1)[1]  # as written; str(term.network) is slow in a hot loop
            self.step(depth, domain, "term", f"'{term.text}': {self.ip_text} {'is' if hit else 'is not'} in "
                      f"{network}", term=term.text)
            return hit
        target = self.target(term, domain)
        if name == "include":
            return self.include(depth, domain, term, target)
        if name == "exists":
            ans = self.query(depth, domain, target, "A")
            self.temp_check(ans, term)
            hit = bool(ans.records)
            self.step(depth, domain, "term", f"'{term.text}': {target} {'exists' if hit else 'has no A record'}",
                      term=term.text)
            return hit
        if name == "a":
            ans = self.query(depth, domain, target, self.addr_type)
            self.temp_check(ans, term)
            return self.cidr_match(depth, domain, term, ans.records)
        if name == "mx":
            return self.mx(depth, domain, term, target)
        return self.ptr(depth, domain, term, target)

    def temp_check(self, ans: DnsAnswer, term: Term) -> None:
        if ans.temporary:
            raise SpfError("temperror", f"DNS {ans.status} for {ans.name} {ans.rdtype} while evaluating "
                           f"'{term.text}' (RFC 7208 §5)")

    def cidr_match(self, depth: int, domain: str, term: Term, addresses: list[str] | tuple[str, ...]) -> bool:
        bits = 128 if self.ip.version == 6 else 32
        prefix = term.cidr6 if self.ip.version == 6 else term.cidr4
        plen = bits if prefix is None else prefix
        mine = int(self.ip) >> (bits - plen)
        for text in addresses:
            try:
                addr = ipaddress.ip_address(text)
            except ValueError:
                continue
            if addr.version == self.ip.version and int(addr) >> (bits - plen) == mine:
                self.step(depth, domain, "term", f"'{term.text}': {self.ip_text} is in {text}/{plen}", term=term.text)
                return True
        shown = ", ".join(addresses) or "no addresses"
        self.step(depth, domain, "term", f"'{term.text}': {self.ip_text} not in [{shown}]"
                  + (f" with /{prefix}" if prefix is not None else ""), term=term.text)
        return False

    def include(self, depth: int, domain: str, term: Term, target: str) -> bool:
        self.step(depth, domain, "term", f"'{term.text}': evaluating {target}", term=term.text)
        inner = self.check_host(depth + 1, target)
        if inner.result == "none":
            raise SpfError("permerror", f"'{term.text}': {target} has no SPF record (RFC 7208 §5.2)")
        hit = inner.result == "pass"
        self.step(depth, domain, "term", f"'{term.text}': {target} returned {inner.result} -> "
                  f"{'match' if hit else 'no match'} (RFC 7208 §5.2)", term=term.text)
        return hit

    def mx(self, depth: int, domain: str, term: Term, target: str) -> bool:
        ans = self.query(depth, domain, target, "MX")
        self.temp_check(ans, term)
        exchanges = sorted((int(p), h) for p, _, h in (r.partition(" ") for r in ans.records))
        if len(exchanges) > MAX_NAMES:
            raise SpfError("permerror", f"'{term.text}': {target} has {len(exchanges)} MX records; "
                           f"more than {MAX_NAMES} (RFC 7208 §4.6.4)")
        addresses: list[str] = []
        for _, host in exchanges:
            if not host:  # null MX "0 ." (RFC 7505)
                continue
            a = self.query(depth, domain, host, self.addr_type)
            self.temp_check(a, term)
            addresses.extend(a.records)
        return self.cidr_match(depth, domain, term, addresses)

    def validated_names(self, depth: int, domain: str) -> list[str]:
        """PTR names of the client whose A/AAAA lead back to it (RFC 7208 §5.5); first 10 names only."""
        if self._ptr_cache is not None:
            return self._ptr_cache
        ans = self.query(depth, domain, reverse_name(self.ip_text), "PTR")
        names: list[str] = []
        if ans.temporary:
            self.step(depth, domain, "term", f"PTR lookup failed ({ans.status}): no validated name (RFC 7208 §5.5)")
        else:
            if len(ans.records) > MAX_NAMES:
                self.step(depth, domain, "term", f"{len(ans.records)} PTR names: only the first {MAX_NAMES} are "
                          "checked (RFC 7208 §4.6.4)")
            for host in ans.records[:MAX_NAMES]:
                a = self.query(depth, domain, host, self.addr_type)
                if a.temporary:
                    self.step(depth, domain, "term", f"{host} skipped: DNS {a.status} (RFC 7208 §5.5)")
                elif any(ipaddress.ip_address(r) == self.ip for r in a.records):
                    names.append(host)
        self._ptr_cache = names
        return names

    def ptr(self, depth: int, domain: str, term: Term, target: str) -> bool:
        names = self.validated_names(depth, domain)
        t = target.lower()
        for host in names:
            h = host.lower().rstrip(".")
            if h == t or h.endswith("." + t):
                self.step(depth, domain, "term", f"'{term.text}': validated name {host} is in {target}",
                          term=term.text)
                return True
        self.step(depth, domain, "term", f"'{term.text}': validated names [{', '.join(names)}] not in {target}",
                  term=term.text)
        return False

    def validated_name(self, domain: str) -> str:
        """The %{p} macro: a validated name, preferring DOMAIN (the current <domain>) (RFC 7208 §7.3)."""
        names = self.validated_names(0, domain)
        if not names:
            return "unknown"
        for host in names:
            if host.lower() == domain.lower():
                return host
        for host in names:
            if host.lower().endswith("." + domain.lower()):
                return host
        return names[0]

    def explanation(self, outcome: _Outcome, default: str) -> str:
        env = self.env_for(outcome.domain)
        exp = outcome.record.modifier("exp") if outcome.record is not None else None
        if exp is not None and exp.argument is not None:
            try:
                name = expand_domain(exp.argument, env)
            except MacroError:
                name = ""
            if name and not domain_problem(name):
                ans = self.query(0, outcome.domain, name, "TXT", counts_void=False)
                if ans.ok and len(ans.records) == 1 and ans.records[0].isascii():
                    try:
                        text = expand_macros(ans.records[0], env, exp=True)
                        self.step(0, outcome.domain, "explanation", f"explanation from {exp.text}: {text}")
                        return text
                    except MacroError as exc:
                        self.step(0, outcome.domain, "explanation", f"{exp.text} ignored: {exc}")
                else:
                    self.step(0, outcome.domain, "explanation", f"{exp.text} ignored: {ans.describe()} (RFC 7208 §6.2)")
        try:
            return expand_macros(default, env, exp=True)
        except MacroError:
            return default


def check_host(
    resolver: Resolver,
    ip: str,
    sender: str,
    helo: str = "",
    *,
    record: str | None = None,
    receiver: str = "unknown",
    default_explanation: str = DEFAULT_EXPLANATION,
    timestamp: int | None = None,
    max_lookups: int = MAX_LOOKUPS,
    max_void: int = MAX_VOID,
    time_limit: float = TIME_LIMIT,
) -> SpfResult:
    """Evaluate SPF for IP sending as SENDER (empty: the HELO identity). RECORD replaces the DNS record."""
    addr = parse_ip(ip)
    identity, local, domain = split_sender(sender, helo)
    domain = to_a_labels(domain)
    env = MacroEnv(local, domain, domain, addr, helo, receiver, int(time.time()) if timestamp is None else timestamp,
                   upper_hex=ip != ip.lower())
    ev = _Evaluation(resolver, addr, env, max_lookups, max_void, time_limit)
    full_sender = f"{local}@{domain}"
    ip_text = ev.ip_text
    ev.step(0, domain, "check", f"check_host(ip={ip_text}, domain={domain}, sender={full_sender}, identity={identity})")
    problem = reason = mechanism = explanation = ""
    record_used = record or ""
    try:
        outcome = ev.check_host(0, domain, record)
        result, mechanism = outcome.result, outcome.mechanism
        if result == "fail":
            explanation = ev.explanation(outcome, default_explanation)
        if result == "none":
            reason = problem = ev.trace[-1].text
        elif mechanism == "default":
            reason = f"no mechanism matched {ip_text}; the default result is neutral"
        else:
            reason = f"'{mechanism}' in the record of {outcome.domain} matched {ip_text}"
    except SpfError as exc:
        result, problem = exc.result, str(exc)
        reason = problem
        ev.step(0, domain, "error", problem)
    except RecursionError:  # cannot happen within the lookup limit; kept as a last guard
        result = "permerror"
        reason = problem = "record nesting too deep"
    ev.step(0, domain, "result", f"result {result}: {reason}")
    record_used = record_used or _top_record(ev, domain)  # also when the published record is the problem
    return SpfResult(
        result=result, ip=ip_text, sender=full_sender, domain=domain, identity=identity, helo=helo,
        mechanism=mechanism, explanation=explanation, problem=problem,
        reason=reason, record=record_used, lookups=ev.lookups, void_lookups=ev.voids, trace=tuple(ev.trace),
    )


def _top_record(ev: _Evaluation, domain: str) -> str:
    for step in ev.trace:
        if step.action == "record" and step.domain == domain and step.text.startswith("record: "):
            return step.text[len("record: "):]
    return ""
