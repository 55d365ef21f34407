"""Netfilter rules as text: `iptables-save` output and `nft list ruleset` output, parsed into one rule
shape (pure), plus cPanel's SMTP Restrictions state under a server root.

Only what decides an outgoing TCP connection is modelled: protocol, destination port(s), owner
(uid/gid), output interface, destination address, connection state and the verdict. A match that
is not understood is kept in `Rule.unknown`, so the evaluation can say "this rule may apply".
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Rule:
    source: str  # file name or "iptables-save (live)"
    line: int
    text: str
    table: str
    chain: str
    family: str = "ip"  # ip | ip6 | inet
    proto: str | None = None
    proto_neg: bool = False
    dports: tuple[Range, ...] | None = None
    dport_neg: bool = False
    uid: Range | None = None
    uid_neg: bool = False
    gid: Range | None = None
    gid_neg: bool = False
    oif: str | None = None
    oif_neg: bool = False
    daddr: Net | None = None
    daddr_neg: bool = False
    new_ok: bool = True  # False: the rule only matches ESTABLISHED/RELATED, never a new connection
    target: str = ""  # ACCEPT DROP REJECT RETURN LOG ... or a chain name; "" = no verdict (counter only)
    goto: bool = False
    unknown: tuple[str, ...] = ()


@dataclass
class Chain:
    name: str
    policy: str = ""  # "" for user chains
    hook: str = ""  # nft base chains: input/output/...; iptables built-ins use their name
    priority: int = 0
    rules: list[Rule] = field(default_factory=list)


@dataclass
class Ruleset:
    kind: str  # iptables | nft
    source: str
    tables: dict[tuple[str, str], dict[str, Chain]] = field(default_factory=dict)  # (family, table) -> chains

    def rule_count(self) -> int:
        return sum(len(c.rules) for chains in self.tables.values() for c in chains.values())


def _range(text: str, names: Mapping[str, int]) -> Range | None:
    text = text.strip().strip('"')
    lo, sep, hi = text.partition("-")
    if not sep and ":" in text:
        lo, sep, hi = text.partition(":")

    def num(v: str) -> int | None:
        return int(v) if v.isdigit() else names.get(v)

    a = num(lo)
    b = num(hi) if sep else a
    return (a, b) if a is not None and b is not None else None


def _ports(text: str) -> tuple[Range, ...] | None:
    out = []
    for part in text.replace("{", "").replace("}", "").split(","):
        r = _range(part, {})
        if r is None:
            return None
        out.append(r)
    return tuple(out) or None


def _net(text: str) -> Net | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


# --------------------------------------------------------------------------- iptables-save

_IGNORED_OPTS = {"-m", "--match", "-c"}
_STATE_OPTS = {"--state", "--ctstate"}


def parse_iptables_save(text: str, source: str, users: Mapping[str, int] | None = None,
                        groups: Mapping[str, int] | None = None, family: str = "ip") -> Ruleset:
    """Parse `iptables-save` / `ip6tables-save` text (also /etc/sysconfig/iptables, rules.v4)."""
    users, groups = users or {}, groups or {}
    rs = Ruleset("iptables", source)
    table = ""
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = line[1:].strip()
            rs.tables.setdefault((family, table), {})
            continue
        if not line.startswith((":", "-A ", "-I ")):
            continue
        chains = rs.tables.setdefault((family, table or "filter"), {})
        if line.startswith(":"):
            name, _, rest = line[1:].partition(" ")
            policy = rest.split()[0] if rest.split() else "-"
            builtin = policy != "-"
            chains[name] = Chain(name, policy if builtin else "", name.lower() if builtin else "")
            continue
        try:
            args = shlex.split(line)
        except ValueError:
            continue
        chain = args[1] if len(args) > 1 else ""
        rule = _iptables_rule(args[2:], source, no, line, table or "filter", chain, family, users, groups)
        chains.setdefault(chain, Chain(chain)).rules.append(rule)
    return rs


def _iptables_rule(args: list[str], source: str, no: int, text: str, table: str, chain: str, family: str,
                   users: Mapping[str, int], groups: Mapping[str, int]) -> Rule:
    f: dict[str, object] = {}
    unknown: list[str] = []
    neg = False
    i = 0
    while i < len(args):
        opt = args[i]
        val = args[i + 1] if i + 1 < len(args) else ""
        if opt == "!":
            neg, i = True, i + 1
            continue
        if opt in _IGNORED_OPTS:
            i += 2
        elif opt in ("-p", "--protocol"):
            f["proto"], f["proto_neg"], i = val.lower(), neg, i + 2
        elif opt in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            f["dports"], f["dport_neg"], i = _ports(val), neg, i + 2
        elif opt == "--uid-owner":
            f["uid"], f["uid_neg"], i = _range(val, users), neg, i + 2
        elif opt == "--gid-owner":
            f["gid"], f["gid_neg"], i = _range(val, groups), neg, i + 2
        elif opt in ("-o", "--out-interface"):
            f["oif"], f["oif_neg"], i = val, neg, i + 2
        elif opt in ("-d", "--destination"):
            f["daddr"], f["daddr_neg"], i = _net(val), neg, i + 2
        elif opt in _STATE_OPTS:
            f["new_ok"] = ("NEW" in val.upper().split(",")) != neg
            i += 2
        elif opt in ("-j", "--jump", "-g", "--goto"):
            f["target"], f["goto"] = val, opt in ("-g", "--goto")
            i += 2
        elif opt in ("-s", "--source", "-i", "--in-interface", "--sport", "--source-port", "--sports", "--comment",
                     "--log-prefix", "--log-level", "--reject-with", "--tcp-flags", "--limit", "--limit-burst"):
            i += 2 if opt != "--tcp-flags" else 3
        elif opt in ("--syn", "--log-uid", "--suppl-groups"):
            i += 1
        else:
            unknown.append(opt)
            i += 1 if (not val or val.startswith("-")) else 2
        neg = False
    return Rule(source, no, text, table, chain, family, unknown=tuple(unknown), **f)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- nft list ruleset

_TABLE = re.compile(r"^table\s+(\w+)\s+(\S+)\s*\{")
_CHAIN = re.compile(r"^chain\s+(\S+)\s*\{")
_HOOK = re.compile(r"type\s+\w+\s+hook\s+(\w+)(?:\s+device\s+\S+)?\s+priority\s+([\w-]+)\s*;(?:\s*policy\s+(\w+)\s*;)?")
_PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
_VERDICTS = {"accept": "ACCEPT", "drop": "DROP", "reject": "REJECT", "return": "RETURN", "continue": ""}


def parse_nft_ruleset(text: str, source: str, users: Mapping[str, int] | None = None,
                      groups: Mapping[str, int] | None = None) -> Ruleset:
    """Parse `nft list ruleset` output (also /etc/nftables.conf written in the same form)."""
    users, groups = users or {}, groups or {}
    rs = Ruleset("nft", source)
    table: tuple[str, str] | None = None
    chain: Chain | None = None
    depth = 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("comment") else raw.strip()
        if not line:
            continue
        m = _TABLE.match(line)
        if m and depth == 0:
            table, depth = (m.group(1), m.group(2)), 1
            rs.tables.setdefault(table, {})
            continue
        m = _CHAIN.match(line)
        if m and table is not None and depth == 1:
            chain, depth = Chain(m.group(1)), 2
            rs.tables[table][chain.name] = chain
            continue
        if line.startswith("}"):
            depth = max(0, depth - 1)
            if depth < 2:
                chain = None
            if depth == 0:
                table = None
            continue
        if depth >= 2 and "{" in line and "}" not in line:
            depth += 1  # a set/map body inside a chain: skip its lines
            continue
        if chain is None or table is None or depth != 2:
            continue
        m = _HOOK.search(line)
        if m:
            chain.hook = m.group(1)
            prio = m.group(2)
            chain.priority = int(prio) if prio.lstrip("-").isdigit() else _PRIORITIES.get(prio, 0)
            chain.policy = (m.group(3) or "accept").upper()
            continue
        chain.rules.append(_nft_rule(line, source, no, table, chain.name, users, groups))
    return rs


def _nft_rule(line: str, source: str, no: int, table: tuple[str, str], chain: str, users: Mapping[str, int],
              groups: Mapping[str, int]) -> Rule:
    f: dict[str, object] = {}
    unknown: list[str] = []
    toks = re.findall(r'\{[^}]*\}|"[^"]*"|\S+', line)
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        neg = nxt == "!="
        val = toks[i + 2] if neg and i + 2 < len(toks) else nxt
        step = 3 if neg else 2
        if t in ("meta", "ct") and nxt in ("l4proto", "skuid", "skgid", "oif", "oifname", "state", "protocol"):
            i += 1
            continue
        if t in ("l4proto", "protocol") and toks[i - 1:i] in (["meta"], ["ip"], ["ip6"]):
            f["proto"], f["proto_neg"], i = val.lower(), neg, i + step
        elif t in ("tcp", "udp") and nxt == "dport":
            f.setdefault("proto", t)
            pneg = i + 2 < len(toks) and toks[i + 2] == "!="
            pos = i + 3 if pneg else i + 2
            f["dport_neg"], f["dports"] = pneg, _ports(toks[pos] if pos < len(toks) else "")
            i += 4 if pneg else 3
        elif t == "skuid":
            f["uid"], f["uid_neg"], i = _range(val, users), neg, i + step
        elif t == "skgid":
            f["gid"], f["gid_neg"], i = _range(val, groups), neg, i + step
        elif t in ("oif", "oifname"):
            f["oif"], f["oif_neg"], i = val.strip('"'), neg, i + step
        elif t in ("ip", "ip6") and nxt == "daddr":
            v2 = toks[i + 2] if i + 2 < len(toks) else ""
            dneg = v2 == "!="
            f["daddr"], f["daddr_neg"] = _net(toks[i + 3] if dneg and i + 3 < len(toks) else v2), dneg
            i += 4 if dneg else 3
        elif t == "state" and toks[i - 1:i] == ["ct"]:
            f["new_ok"] = ("new" in val.replace("{", "").replace("}", "").replace(",", " ").split()) != neg
            i += step
        elif t in _VERDICTS:
            f["target"] = _VERDICTS[t]
            break
        elif t in ("jump", "goto"):
            f["target"], f["goto"] = nxt, t == "goto"
            break
        elif t == "counter":
            i += 5 if nxt == "packets" else 1
        elif t in ("log", "comment"):
            i += 1
            while i < len(toks) and toks[i] not in _VERDICTS and toks[i] not in ("jump", "goto", "counter"):
                i += 1
        elif t.startswith("xt") or t in ("ip", "ip6", "tcp", "udp", "th", "iif", "iifname", "saddr", "sport",
                                         "limit", "rate"):
            unknown.append(t)
            i += 1
        else:
            unknown.append(t)
            i += 1
    return Rule(source, no, line, table[1], chain, table[0], unknown=tuple(unknown), **f)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- cPanel


@dataclass(frozen=True, slots=True)
class CpanelSmtpRestrictions:
    enabled: bool
    evidence: str  # the file that says so
    line: int | None = None


def read_cpanel_smtp_restrictions(root: Path) -> CpanelSmtpRestrictions | None:
    """WHM > Security Center > SMTP Restrictions: only the MTA, root and mailman may connect out to SMTP.

    cPanel keeps the state as the touch file /var/cpanel/smtpgidonlytweak and as
    `smtpmailgidonly=1` in /var/cpanel/cpanel.config. None when this is not a cPanel server.
    """
    tweak = root / "var/cpanel/smtpgidonlytweak"
    if tweak.exists():
        return CpanelSmtpRestrictions(True, str(tweak))
    config = root / "var/cpanel/cpanel.config"
    if config.is_file():
        for no, line in enumerate(config.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            key, sep, value = line.partition("=")
            if sep and key.strip() == "smtpmailgidonly":
                return CpanelSmtpRestrictions(value.strip() == "1", str(config), no)
        return CpanelSmtpRestrictions(False, str(config))
    return None
