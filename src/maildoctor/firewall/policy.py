"""Would a new outgoing TCP connection by a given user to a given port pass the firewall? (pure)

Walks the OUTPUT path of a parsed ruleset the way netfilter does: iptables' filter/OUTPUT chain
with jumps into user chains (CSF's LOCALOUTPUT, LOGDROPOUT...), or every nftables base chain on the
output hook in priority order. A rule whose matches cannot be decided (an unknown match, a
destination address when no target was named) is reported as "may apply" instead of guessed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from maildoctor.server.firewall import Chain, Rule, Ruleset

PASS_TARGETS = {"", "LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "NOTRACK", "CT", "TRACE", "AUDIT", "TCPMSS"}
BLOCK_TARGETS = {"DROP", "REJECT"}
MAX_DEPTH = 16
MAX_STEPS = 100_000  # rule visits per evaluation
REMOTE_EXAMPLE = ipaddress.ip_address("203.0.113.1")


@dataclass(frozen=True, slots=True)
class Conn:
    """One new outgoing TCP connection: who opens it and where to."""

    uid: int | None
    gid: int | None
    port: int
    loopback: bool
    daddr: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None  # None: "some remote host"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str  # ACCEPT | DROP | REJECT
    rule: Rule | None  # the deciding rule; None = the chain policy
    chain: str
    source: str
    uncertain: tuple[Rule, ...] = ()  # blocking rules that may apply but could not be decided

    @property
    def blocked(self) -> bool:
        return self.action in BLOCK_TARGETS


def _in(value: int | None, rng: tuple[int, int] | None) -> bool | None:
    if rng is None:
        return True
    if value is None:
        return None
    return rng[0] <= value <= rng[1]


def _xor(m: bool | None, neg: bool) -> bool | None:
    return None if m is None else (m != neg)


def match(rule: Rule, c: Conn) -> bool | None:
    """True/False, or None when the rule may or may not match this connection."""
    if not rule.new_ok:
        return False
    family = "ip6" if c.daddr is not None and c.daddr.version == 6 else "ip"
    if rule.family in ("ip", "ip6") and rule.family != family:
        return False
    results: list[bool | None] = []
    if rule.proto not in (None, "all", "0"):
        results.append(_xor(rule.proto in ("tcp", "6"), rule.proto_neg))
    if rule.dports is not None:
        results.append(_xor(any(lo <= c.port <= hi for lo, hi in rule.dports), rule.dport_neg))
    if rule.uid is not None:
        results.append(_xor(_in(c.uid, rule.uid), rule.uid_neg))
    if rule.gid is not None:
        results.append(_xor(_in(c.gid, rule.gid), rule.gid_neg))
    if rule.oif is not None:
        oif = rule.oif[:-1] if rule.oif.endswith("+") else rule.oif
        is_lo = "lo".startswith(oif) if rule.oif.endswith("+") else oif == "lo"
        results.append(_xor(is_lo if c.loopback else not is_lo, rule.oif_neg))
    if rule.daddr is not None:
        if c.loopback:
            addr = ipaddress.ip_address("127.0.0.1" if family == "ip" else "::1")
            results.append(_xor(addr in rule.daddr, rule.daddr_neg))
        elif c.daddr is not None:
            results.append(_xor(c.daddr in rule.daddr, rule.daddr_neg))
        elif rule.daddr.prefixlen == 0:
            results.append(not rule.daddr_neg)
        elif rule.daddr.is_loopback or rule.daddr.is_private:
            results.append(rule.daddr_neg)  # "a remote host" is taken to be a public one
        else:
            results.append(None)
    if rule.unknown:
        results.append(None)
    if any(r is False for r in results):
        return False
    return None if any(r is None for r in results) else True


@dataclass
class _Walk:
    """Traversal state: rules that could not be decided, the chains being walked, a step budget."""

    uncertain: list[Rule]
    stack: list[str]
    steps: int = 0


def _walk(chains: dict[str, Chain], name: str, c: Conn, w: _Walk) -> tuple[str, Rule | None] | None:
    chain = chains.get(name)
    if chain is None or name in w.stack or len(w.stack) > MAX_DEPTH:
        return None  # netfilter refuses loops; a looping text (or a fuzzer's) is cut here
    w.stack.append(name)
    try:
        for rule in chain.rules:
            w.steps += 1
            if w.steps > MAX_STEPS:
                return None
            m = match(rule, c)
            if m is False or rule.target in PASS_TARGETS:
                continue
            if m is None:
                if rule.target in BLOCK_TARGETS or rule.target in chains:
                    w.uncertain.append(rule)
                continue
            if rule.target == "RETURN":
                return None
            if rule.target in ("ACCEPT", *BLOCK_TARGETS):
                return rule.target, rule
            if rule.target in chains:
                sub = _walk(chains, rule.target, c, w)
                if sub is not None:
                    return sub
                if rule.goto:
                    return None
        return None
    finally:
        w.stack.pop()


def evaluate(rs: Ruleset, c: Conn) -> Verdict | None:
    """The fate of connection C under ruleset RS; None when RS has no output filtering at all."""
    uncertain: list[Rule] = []
    bases: list[tuple[int, str, dict[str, Chain], Chain]] = []
    for (family, table), chains in rs.tables.items():
        if rs.kind == "iptables" and table != "filter":
            continue
        for ch in chains.values():
            if ch.hook == "output":
                bases.append((ch.priority, f"{family} {table}", chains, ch))
    if not bases:
        return None
    accepted: Verdict | None = None
    for _prio, where, chains, base in sorted(bases, key=lambda b: b[0]):
        res = _walk(chains, base.name, c, _Walk(uncertain, []))
        action, rule = res if res is not None else (base.policy or "ACCEPT", None)
        verdict = Verdict(action, rule, f"{where} {base.name}", rs.source, tuple(uncertain))
        if verdict.blocked:
            return verdict
        accepted = verdict
    return accepted
