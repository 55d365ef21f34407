"""Where the firewall state comes from: users and groups under the root, saved rule files, and on a
live server (`--root /`) the running rules from `iptables-save` and `nft list ruleset` (read-only)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from maildoctor.errors import InputError, UsageError
from maildoctor.server.firewall import Ruleset, parse_iptables_save, parse_nft_ruleset

SAVED_IPTABLES = ("etc/sysconfig/iptables", "etc/iptables/rules.v4", "etc/iptables.rules")
SAVED_IP6TABLES = ("etc/sysconfig/ip6tables", "etc/iptables/rules.v6")
SAVED_NFT = ("etc/nftables.conf", "etc/sysconfig/nftables.conf")
IPTABLES_NFT_TABLES = {"filter", "nat", "mangle", "raw", "security"}


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    uid: int | None
    gid: int | None
    groups: frozenset[str]  # group names (primary and supplementary)
    gids: frozenset[int]
    how: str = ""  # how the user was found (a script path's owner, /etc/passwd)


@dataclass(frozen=True, slots=True)
class Accounts:
    users: dict[str, tuple[int, int]]  # name -> (uid, gid)
    groups: dict[str, int]  # name -> gid
    members: dict[str, frozenset[str]]  # group name -> member user names


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def read_accounts(root: Path) -> Accounts:
    users: dict[str, tuple[int, int]] = {}
    for line in _lines(root / "etc/passwd"):
        p = line.split(":")
        if len(p) >= 4 and p[2].isdigit() and p[3].isdigit():
            users.setdefault(p[0], (int(p[2]), int(p[3])))
    groups: dict[str, int] = {}
    members: dict[str, frozenset[str]] = {}
    for line in _lines(root / "etc/group"):
        p = line.split(":")
        if len(p) >= 3 and p[2].isdigit():
            groups.setdefault(p[0], int(p[2]))
            members[p[0]] = frozenset(m for m in (p[3].split(",") if len(p) > 3 else []) if m)
    return Accounts(users, groups, members)


_HOME = re.compile(r"^/home\d*/([^/]+)/")


def resolve_user(root: Path, spec: str, acc: Accounts) -> UserInfo:
    """A user name, a numeric uid, or a script path (/home/USER/public_html/contact.php)."""
    how = "etc/passwd"
    name = spec.strip()
    if "/" in name:
        m = _HOME.match(name if name.startswith("/") else "/" + name)
        if not m:
            raise UsageError(f"--user {spec!r}: a path must be under /home/USER/")
        name, how = m.group(1), f"owner of {spec}"
    if name.isdigit():
        uid = int(name)
        found = next((n for n, (u, _g) in acc.users.items() if u == uid), None)
        name = found or name
        if found is None:
            return UserInfo(name, uid, None, frozenset(), frozenset(), "numeric uid (not in etc/passwd)")
    if name not in acc.users:
        raise UsageError(f"--user {spec!r}: no such user in {root / 'etc/passwd'}")
    uid, gid = acc.users[name]
    groups = {g for g, who in acc.members.items() if name in who}
    groups |= {g for g, i in acc.groups.items() if i == gid}
    gids = frozenset(acc.groups[g] for g in groups if g in acc.groups) | {gid}
    return UserInfo(name, uid, gid, frozenset(groups), gids, how)


def _run(argv: list[str]) -> str | None:
    if not shutil.which(argv[0]):
        return None
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


def read_rulesets(root: Path, live: bool, acc: Accounts) -> tuple[list[Ruleset], list[str]]:
    """The rulesets to evaluate and a note per source read (or skipped)."""
    users = {n: u for n, (u, _g) in acc.users.items()}
    rulesets: list[Ruleset] = []
    notes: list[str] = []
    if live:
        v4 = _run(["iptables-save"])
        v6 = _run(["ip6tables-save"])
        nft = _run(["nft", "list", "ruleset"])
        for text, fam, cmd in ((v4, "ip", "iptables-save"), (v6, "ip6", "ip6tables-save")):
            if text is not None:
                rs = parse_iptables_save(text, f"{cmd} (running rules)", users, acc.groups, fam)
                if rs.rule_count():
                    rulesets.append(rs)
                notes.append(f"{cmd}: {rs.rule_count()} rules")
        if nft is not None:
            rs = parse_nft_ruleset(nft, "nft list ruleset (running rules)", users, acc.groups)
            if any(r.kind == "iptables" for r in rulesets):
                # tables iptables-nft manages are the same rules iptables-save already showed
                rs.tables = {k: v for k, v in rs.tables.items()
                             if not (k[0] in ("ip", "ip6") and k[1] in IPTABLES_NFT_TABLES)}
            if rs.rule_count():
                rulesets.append(rs)
            notes.append(f"nft list ruleset: {rs.rule_count()} rules outside the iptables tables")
        if rulesets or v4 is not None or nft is not None:
            return rulesets, notes
        notes.append("no iptables-save/nft on this host: reading saved rule files instead")
    for rel, fam in [*((r, "ip") for r in SAVED_IPTABLES), *((r, "ip6") for r in SAVED_IP6TABLES)]:
        path = root / rel
        if path.is_file():
            rs = parse_iptables_save("\n".join(_lines(path)), str(path), users, acc.groups, fam)
            rulesets.append(rs)
            notes.append(f"{path}: {rs.rule_count()} rules (saved, loaded at boot)")
    for rel in SAVED_NFT:
        path = root / rel
        if path.is_file():
            rs = parse_nft_ruleset("\n".join(_lines(path)), str(path), users, acc.groups)
            rulesets.append(rs)
            notes.append(f"{path}: {rs.rule_count()} rules (saved, loaded at boot)")
    return rulesets, notes


def read_rules_file(path: Path, acc: Accounts) -> Ruleset:
    """A rules dump given on the command line: `nft list ruleset` or `iptables-save` text (sniffed)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    users = {n: u for n, (u, _g) in acc.users.items()}
    if re.search(r"^\s*table\s+\w+\s+\S+\s*\{", text, re.M):
        rs = parse_nft_ruleset(text, str(path), users, acc.groups)
    else:
        rs = parse_iptables_save(text, str(path), users, acc.groups, "ip6" if "ip6tables" in text[:200] else "ip")
    if not rs.tables:
        raise InputError(f"{path}: neither iptables-save nor nft list ruleset output")
    return rs
