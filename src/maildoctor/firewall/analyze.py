"""Why a user (or a website script running as that user) cannot send out, and the workaround that fits.

Three things can stop a user's outgoing SMTP connection: CSF's SMTP_BLOCK (or a TCP_OUT list
without the port), cPanel's SMTP Restrictions, and any iptables/nftables rule matching the owner.
Each port is judged twice: to a remote host, and to this server over loopback (PHPMailer to
localhost); the workaround is chosen from what is still open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from maildoctor.firewall.policy import Conn, evaluate
from maildoctor.firewall.sources import UserInfo
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.server.csf import CsfConfig, csf_decides
from maildoctor.server.firewall import CpanelSmtpRestrictions, Rule, Ruleset

DEFAULT_PORTS = (25, 465, 587)
ALTERNATE_PORTS = (26, 2525)
CPANEL_PORTS = {25, 465, 587}
CPANEL_ALLOWED_GROUPS = {"mail", "mailman"}  # the MTA (mailnull, group mail), mailman, and root


@dataclass(frozen=True, slots=True)
class Block:
    by: str  # csf | cpanel | iptables | nft
    what: str  # one line: the setting or the rule
    where: str  # file or command
    line: int | None = None
    rule: Rule | None = None


@dataclass(frozen=True, slots=True)
class PathResult:
    port: int
    loopback: bool
    blocked: bool
    blocks: tuple[Block, ...] = ()
    maybe: tuple[Block, ...] = ()  # rules that may block (could not be decided)


def _rule_block(rs: Ruleset, rule: Rule | None, chain: str, action: str) -> Block:
    if rule is None:
        return Block(rs.kind, f"policy {action} of chain {chain}", rs.source)
    return Block(rs.kind, rule.text, rule.source, rule.line, rule)


def check_path(user: UserInfo, csf: CsfConfig | None, cpanel: CpanelSmtpRestrictions | None,
               rulesets: Sequence[Ruleset], port: int, loopback: bool) -> PathResult:
    blocks: list[Block] = []
    maybe: list[Block] = []
    if csf is not None:
        d = csf_decides(csf, user.name, user.uid, user.groups, port, loopback)
        if d is not None and d.blocked:
            ev = csf.evidence_line(d.key)
            blocks.append(Block("csf", f"{ev[1] if ev else d.key}: {d.reason}", str(csf.path), ev[0] if ev else None))
    if (cpanel is not None and cpanel.enabled and not loopback and port in CPANEL_PORTS and user.uid != 0
            and not (user.groups & CPANEL_ALLOWED_GROUPS)):
        blocks.append(Block("cpanel", "SMTP Restrictions are on: only the MTA, mailman and root may connect to "
                            "remote SMTP servers", cpanel.evidence, cpanel.line))
    for rs in rulesets:
        v = evaluate(rs, Conn(user.uid, user.gid, port, loopback))
        if v is None:
            continue
        if v.blocked:
            blocks.append(_rule_block(rs, v.rule, v.chain, v.action))
        maybe.extend(Block(rs.kind, r.text, r.source, r.line, r) for r in v.uncertain if r.target != "ACCEPT")
    return PathResult(port, loopback, bool(blocks), tuple(blocks), tuple(maybe))


def workarounds(user: UserInfo, results: Sequence[PathResult], csf: CsfConfig | None,
                cpanel: CpanelSmtpRestrictions | None) -> list[str]:
    """The fixes that fit, best first: what still works for this user, then whitelisting."""
    remote = {r.port: r for r in results if not r.loopback}
    local = {r.port: r for r in results if r.loopback}
    out = ["Use the local MTA: PHP mail() or /usr/sbin/sendmail -t (the MTA's own user may connect out, and the "
           "message is logged and rate-limited like any other)."]
    open_local = [p for p in (25, 587) if p in local and not local[p].blocked]
    if open_local:
        out.append(f"Or SMTP to this server: PHPMailer/SwiftMailer to localhost port {open_local[0]}"
                   + (" (587 with authentication as a mailbox of the account)" if 587 in open_local else "")
                   + f"; {user.name} may connect over loopback.")
    open_remote = [p for p in (587, 26, 2525, 465) if p in remote and not remote[p].blocked]
    if open_remote:
        out.append(f"If the script must use a remote SMTP service: port {' or '.join(map(str, open_remote[:2]))} "
                   f"with authentication is not blocked for {user.name}.")
    blocked_by = {b.by for r in results for b in r.blocks}
    if "csf" in blocked_by and csf is not None:
        out.append(f"Whitelist the user (only if the account is trusted): SMTP_ALLOWUSER = \"{user.name}\" in "
                   f"{csf.path}, then csf -r. Plan only: maildoctor changes nothing.")
    if "cpanel" in blocked_by:
        out.append("cPanel SMTP Restrictions cannot exempt one user: prefer the local MTA over turning the "
                   "restriction off (WHM > Security Center > SMTP Restrictions).")
    for b in {b.rule.text: b for r in results for b in r.blocks if b.rule is not None}.values():
        assert b.rule is not None
        out.append(f"Or accept the user before the blocking rule ({b.where}:{b.line}): iptables -I {b.rule.chain} "
                   f"-p tcp -m owner --uid-owner {user.uid} -j ACCEPT (inserted first in the chain).")
    return out


def _ev(b: Block) -> Evidence:
    return Evidence("file" if b.by in ("csf", "cpanel") or "/" in b.where else "command", b.what, b.where, b.line)


def analyze_user(user: UserInfo, results: Sequence[PathResult], csf: CsfConfig | None,
                 cpanel: CpanelSmtpRestrictions | None,
                 live: dict[int, tuple[tuple[str, str], tuple[str, str]]] | None = None,
                 target: str = "") -> list[Finding]:
    """Findings for one user: blocked paths with the rule that blocks, and the live connection tries."""
    out: list[Finding] = []
    who = f"{user.name} (uid {user.uid})"
    remote_blocked = [r for r in results if not r.loopback and r.blocked]
    local_blocked = [r for r in results if r.loopback and r.blocked]
    fixes = tuple(workarounds(user, results, csf, cpanel)) if remote_blocked or local_blocked else ()
    if remote_blocked:
        ports = ", ".join(str(r.port) for r in remote_blocked)
        by = sorted({b.by for r in remote_blocked for b in r.blocks})
        ev = tuple({(b.where, b.line, b.what): _ev(b) for r in remote_blocked for b in r.blocks}.values())
        out.append(Finding("firewall.user_blocked", Severity.WARNING,
                           f"{who} cannot connect out to port {ports}: blocked by {', '.join(by)}",
                           "Scripts of this user (contact forms, PHPMailer with an external SMTP server) fail "
                           "with 'connection refused' or time out.", ev, fixes, user.name,
                           {"ports": [r.port for r in remote_blocked], "by": by}))
    if local_blocked:
        ports = ", ".join(str(r.port) for r in local_blocked)
        ev = tuple(_ev(b) for r in local_blocked for b in r.blocks)
        out.append(Finding("firewall.user_blocked_local", Severity.WARNING,
                           f"{who} cannot even connect to this server on port {ports} (loopback)",
                           "PHPMailer to localhost fails too; only the sendmail binary works.", ev, fixes, user.name))
    maybe = {(b.where, b.line): b for r in results for b in r.maybe}
    if maybe:
        out.append(Finding("firewall.rules_undecided", Severity.UNKNOWN,
                           f"{len(maybe)} rule(s) may also block {user.name}: matches maildoctor cannot decide",
                           "Check them by hand (a destination address, or a match module maildoctor does not model).",
                           tuple(_ev(b) for b in maybe.values()), (), user.name))
    if not remote_blocked and not local_blocked:
        out.append(Finding("firewall.user_allowed", Severity.OK,
                           f"No firewall rule found that blocks {who} from SMTP ports",
                           "If sending still fails, check the live test (--target HOST) and the mail log.",
                           subject=user.name))
    for port, (mine, roots) in sorted((live or {}).items()):
        src = f"{target}:{port}"
        ev = (Evidence("probe", f"as {user.name}: {mine[0]} ({mine[1]})", src),
              Evidence("probe", f"as root: {roots[0]} ({roots[1]})", src))
        if mine[0] != "open" and roots[0] == "open":
            rule = next((b for r in results if r.port == port and not r.loopback for b in r.blocks), None)
            named = f"; the rule: {rule.what} ({rule.where}{':' + str(rule.line) if rule.line else ''})" if rule else ""
            out.append(Finding("firewall.live_blocked", Severity.WARNING,
                               f"Live: {user.name} cannot connect to {src} ({mine[0]}) while root can{named}",
                               "" if rule else "No rule maildoctor read explains it: look for other owner matches.",
                               ev, fixes or ("Find the rule: iptables -S OUTPUT; nft list ruleset | grep -n skuid",),
                               user.name))
        else:
            out.append(Finding("firewall.live_result", Severity.INFO,
                               f"Live: {src} is {mine[0]} for {user.name} and {roots[0]} for root", "", ev, (),
                               user.name))
    return out


def analyze_policy(csf: CsfConfig | None, cpanel: CpanelSmtpRestrictions | None,
                   rulesets: Sequence[Ruleset], ports: Sequence[int]) -> list[Finding]:
    """Without --user: which outbound SMTP restrictions exist and whom they allow."""
    out: list[Finding] = []
    if csf is not None:
        if csf.disabled:
            out.append(Finding("firewall.csf_disabled", Severity.INFO, "CSF is installed but disabled (csf.disable)",
                               evidence=(Evidence("file", "csf.disable exists", str(csf.path.parent)),)))
        elif csf.smtp_block:
            ev = tuple(Evidence("file", ln[1], str(csf.path), ln[0]) for key in
                       ("SMTP_BLOCK", "SMTP_PORTS", "SMTP_ALLOWUSER", "SMTP_ALLOWGROUP", "SMTP_ALLOWLOCAL")
                       if (ln := csf.evidence_line(key)))
            allowed = ", ".join(["root", *csf.names("SMTP_ALLOWUSER"), *(f"group {g}" for g in
                                                                        csf.names("SMTP_ALLOWGROUP"))])
            out.append(Finding("firewall.csf_smtp_block", Severity.INFO,
                               f"CSF SMTP_BLOCK is on: only {allowed} may connect out to ports "
                               f"{', '.join(map(str, sorted(csf.smtp_ports)))}",
                               "Website scripts of other users must send through the local MTA"
                               + (" (or localhost: SMTP_ALLOWLOCAL is on)." if csf.flag("SMTP_ALLOWLOCAL") else "."),
                               ev, ("maildoctor firewall --user USER shows what a given user can use.",)))
    if cpanel is not None and cpanel.enabled:
        out.append(Finding("firewall.cpanel_smtp_restrictions", Severity.INFO,
                           "cPanel SMTP Restrictions are on: only the MTA, mailman and root reach remote SMTP servers",
                           evidence=(Evidence("file", "enabled", cpanel.evidence, cpanel.line),)))
    for rs in rulesets:
        for chains in rs.tables.values():
            for chain in chains.values():
                for r in chain.rules:
                    if ((r.uid is not None or r.gid is not None) and r.target in ("DROP", "REJECT")
                            and (r.dports is None or any(lo <= p <= hi for p in ports for lo, hi in r.dports))):
                        out.append(Finding("firewall.owner_rule", Severity.INFO,
                                           f"Owner-match rule blocking outgoing SMTP in {chain.name}",
                                           evidence=(Evidence("file" if "/" in r.source else "command", r.text,
                                                              r.source, r.line),)))
    return out
