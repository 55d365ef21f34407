"""`maildoctor forwarders`: every alias, forwarder and pipe under a root, checked.

Reads (never executes) valiases, vdomainaliases, /etc/aliases, ~/.forward, DirectAdmin and
Postfix alias maps, then reports :fail:/:blackhole: entries and defaults, broken pipes, loops,
forwards to local addresses that do not exist, external forwards without SRS, and duplicate or
conflicting entries. Every finding carries the file and line that cause it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maildoctor.forwarders.pipes import analyze_pipe, owners_trusted, read_pipe_facts
from maildoctor.forwarders.srs import SrsState, read_srs_state
from maildoctor.forwarders.texts import make_finding
from maildoctor.model import Evidence, Finding, Severity
from maildoctor.server.accounts import Account, find_account, find_mailbox, read_passwd
from maildoctor.server.aliases import (
    AliasEntry,
    read_directadmin_aliases,
    read_postfix_aliases,
    read_postfix_virtual,
    read_system_aliases,
    read_valiases,
    read_vdomainaliases,
    under,
)
from maildoctor.server.forward import read_forward
from maildoctor.server.routing import Delivery, Router

MAX_EVIDENCE = 25  # a grouped finding shows this many lines; `count` says how many there are


def server_path(root: Path, path: Path | str) -> str:
    """How the server names a file read under root (``ROOT/etc/x`` -> ``/etc/x``)."""
    p = Path(path)
    try:
        return "/" + str(p.relative_to(root)) if root != Path("/") else str(p)
    except ValueError:
        return str(p)


@dataclass
class Inventory:
    """Everything read from the root, plus what could not be read."""

    entries: list[AliasEntry] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (server path, error)


def read_inventory(root: Path, domain: str | None = None) -> Inventory:
    inv = Inventory()
    readers: list[Callable[[], list[AliasEntry]]] = [
        lambda: read_valiases(root, domain),
        lambda: read_directadmin_aliases(root, domain),
        lambda: [e for e in read_postfix_virtual(root) if domain is None or e.domain == domain.lower()],
        lambda: read_vdomainaliases(root, domain),
    ]
    if domain is None:
        readers += [lambda: read_system_aliases(root), lambda: read_postfix_aliases(root)]
    for reader in readers:
        try:
            inv.entries.extend(reader())
        except OSError as exc:
            inv.unreadable.append((server_path(root, exc.filename or "?"), exc.strerror or str(exc)))
    if domain is None:
        for acct in read_passwd(root).values():
            if acct.uid is not None and (acct.uid >= 1000 or acct.name == "root"):
                try:
                    inv.entries.extend(read_forward(root, acct.name, acct.home))
                except OSError as exc:
                    inv.unreadable.append((f"{acct.home}/.forward", exc.strerror or str(exc)))
    return inv


def _outcome(d: Delivery) -> str:
    if d.kind == "fail":
        return f'bounced with "{d.value or "forced failure"}"'
    if d.kind == "unrouteable":
        return "bounced as 'Unrouteable address'"
    if d.kind == "blackhole":
        return "silently discarded (:blackhole:)"
    if d.kind == "mailbox":
        return f"delivered to the mailbox of {d.address}" + ("" if d.exists is not False else " (maildir missing)")
    if d.kind == "remote":
        return f"sent to {d.value}"
    if d.kind == "pipe":
        return f"piped to |{d.value}"
    return f"{d.kind} {d.value}".strip()


class _Analysis:
    def __init__(self, root: Path, inv: Inventory) -> None:
        self.root = root
        self.inv = inv
        self.findings: list[Finding] = []
        self.external: dict[str, list[tuple[AliasEntry, str]]] = defaultdict(list)
        self.seen_loops: set[frozenset[str]] = set()
        self.accounts: dict[str, Account | None] = {}
        self.pipes = 0
        self.router = Router(root)

    def add(self, finding_id: str, evidence: list[Evidence], subject: str, **fields: Any) -> None:
        self.findings.append(make_finding(finding_id, evidence, subject, **fields))

    def is_local(self, address: str) -> bool:
        """A bare local part is local; otherwise the domain must be delivered here."""
        return "@" not in address or self.router.domain(address.rpartition("@")[2].lower()).local

    def ev(self, e: AliasEntry) -> Evidence:
        return Evidence("file", e.raw, server_path(self.root, e.file), e.line)

    def fields(self, e: AliasEntry) -> dict[str, Any]:
        return {"address": e.address, "file": server_path(self.root, e.file), "line": e.line, "domain": e.domain}

    def account_for(self, e: AliasEntry) -> Account | None:
        """The uid a pipe of this entry runs as: the domain owner, the .forward owner, else unknown."""
        from maildoctor.server.accounts import read_userdomains

        name = e.local_part if e.source.startswith("forward") else read_userdomains(self.root).get(e.domain)
        if not name:
            return None
        if name not in self.accounts:
            self.accounts[name] = find_account(self.root, name)
        return self.accounts[name]

    def run(self) -> None:
        self.duplicates()
        for e in self.inv.entries:
            if e.source == "vdomainaliases":
                continue
            self.specials(e)
            self.targets(e)
        self.srs(read_srs_state(self.root))

    def duplicates(self) -> None:
        by_key: dict[tuple[Path, str], list[AliasEntry]] = defaultdict(list)
        for e in self.inv.entries:
            if not e.source.startswith("forward"):
                by_key[(e.file, e.address)].append(e)
        for group in by_key.values():
            first = group[0]
            for other in group[1:]:
                same = other.targets == first.targets
                f = self.fields(first)
                evs = [self.ev(first), self.ev(other)]
                if same:
                    detail = "Both lines say the same, so nothing is lost, but the next edit will go to one of them."
                    self.findings.append(
                        make_finding(
                            "forwarders.duplicate_entry",
                            evs,
                            first.address,
                            other_line=other.line,
                            detail=detail,
                            **f,
                        )
                    )
                else:
                    self.findings.append(
                        make_finding(
                            "forwarders.conflicting_entry",
                            evs,
                            first.address,
                            detail_title=f"two different definitions in {f['file']} (line {first.line} wins)",
                            detail=f"Line {first.line} sends mail to '{_targets(first)}' and line {other.line} to "
                            f"'{_targets(other)}'. Exim uses only the first line, so line {other.line} never applies.",
                            fix_text=f"Keep the right one at line {first.line}, delete line {other.line}.",
                            **f,
                        )
                    )

    def specials(self, e: AliasEntry) -> None:
        f = self.fields(e)
        kinds = [t.kind for t in e.targets]
        for t in e.targets:
            if t.kind == "fail":
                fid = "forwarders.default_fail" if e.is_default else "forwarders.fail_entry"
                self.findings.append(make_finding(fid, [self.ev(e)], e.address, text=t.value or "forced failure", **f))
            elif t.kind == "blackhole":
                fid = "forwarders.default_blackhole" if e.is_default else "forwarders.blackhole_entry"
                self.findings.append(make_finding(fid, [self.ev(e)], e.address, **f))
            elif t.kind == "include" and not under(self.root, t.value).is_file():
                self.findings.append(
                    make_finding("forwarders.include_missing", [self.ev(e)], e.address, path=t.value, **f)
                )
            elif t.kind == "address" and e.is_default and not self.is_local(t.value):
                self.add("forwarders.default_external", [self.ev(e)], e.address, target=t.value, **f)
        if ("fail" in kinds or "defer" in kinds) and len(kinds) > 1:
            self.findings.append(
                make_finding(
                    "forwarders.conflicting_entry",
                    [self.ev(e)],
                    e.address,
                    detail_title=":fail: is combined with other targets",
                    detail=f"{f['file']}:{e.line} lists :fail: together with other targets. :fail: takes the rest of "
                    "the line as its message, so everything after it is text, not a target, and the other targets "
                    "before it may or may not be delivered depending on the Exim version.",
                    fix_text="Put :fail: on a line of its own, or remove it.",
                    **f,
                )
            )
        values = [t.render().lower() for t in e.targets]
        dups = sorted({v for v in values if values.count(v) > 1})
        if dups:
            self.findings.append(
                make_finding(
                    "forwarders.conflicting_entry",
                    [self.ev(e)],
                    e.address,
                    severity=Severity.INFO,
                    detail_title=f"lists {', '.join(dups)} more than once",
                    detail="Exim delivers one copy per distinct address, so the repetition is harmless but misleading.",
                    fix_text=f"Remove the repeated target from {f['file']}:{e.line}.",
                    **f,
                )
            )
        if not e.is_default and e.domain and not e.source.startswith("forward"):
            mbox = find_mailbox(self.root, e.address)
            router = self.router.alias_router
            unseen = router is not None and router.unseen
            if (
                mbox is not None
                and mbox.exists
                and not unseen
                and e.address not in [t.value.lower() for t in e.targets]
            ):
                known = router is not None
                how = (
                    f"the forwarder router {router.name} ({router.file}:{router.line}) is not 'unseen'"
                    if router is not None
                    else "unless the Exim forwarder router is 'unseen' (no Exim configuration under this root)"
                )
                self.findings.append(
                    make_finding(
                        "forwarders.conflicting_entry",
                        [self.ev(e), Evidence("file", "mailbox exists", server_path(self.root, mbox.path))],
                        e.address,
                        severity=None if known else Severity.INFO,
                        detail_title="a forwarder takes all mail away from an existing mailbox",
                        detail=f"{e.address} has a mailbox, but the forwarder at {f['file']}:{e.line} is checked "
                        f"first and {how}, so the mailbox receives nothing (only the forward targets get the mail).",
                        fix_text=f"To keep a copy, add {e.address} itself to the forwarder's targets; "
                        "otherwise delete the unused mailbox.",
                        **f,
                    )
                )

    def targets(self, e: AliasEntry) -> None:
        f = self.fields(e)
        for t in e.targets:
            if t.kind == "pipe":
                self.pipes += 1
                facts = read_pipe_facts(self.root, t.value)
                acct = self.account_for(e)
                trust = owners_trusted(self.root, acct)
                self.findings.extend(analyze_pipe(self.root, facts, acct, e.address, self.ev(e), trust))
            elif t.kind == "address":
                self.address_target(e, t.value, f)
        if not e.is_default:
            for d in self.router.route(e.address).deliveries:
                cycle = d.loop
                if cycle and frozenset(cycle) not in self.seen_loops:
                    self.seen_loops.add(frozenset(cycle))
                    evs = [Evidence("file", h.raw, server_path(self.root, h.file), h.line) for h in d.hops if h.file]
                    self.findings.append(
                        make_finding(
                            "forwarders.loop",
                            evs,
                            e.address,
                            severity=Severity.CRITICAL if d.kind in ("fail", "unrouteable") else None,
                            cycle=" -> ".join(cycle),
                            outcome=_outcome(d),
                            first=cycle[0],
                            **f,
                        )
                    )

    def address_target(self, e: AliasEntry, target: str, f: dict[str, Any]) -> None:
        if "@" not in target:
            return  # a bare local part is a system user; routed by the system routers
        domain = target.rpartition("@")[2].lower()
        if not self.router.domain(domain).local:
            self.external[e.domain or "(system aliases)"].append((e, target))
            return
        for d in self.router.route(target).deliveries:
            first_via = d.hops[0].via if d.hops else ""
            missing = d.kind == "unrouteable" or first_via.endswith("-default") or d.exists is False
            if missing and d.chain[0] == target.lower():
                evs = [self.ev(e)] + [
                    Evidence("file", h.raw, server_path(self.root, h.file), h.line) for h in d.hops if h.file
                ]
                self.findings.append(
                    make_finding(
                        "forwarders.missing_local_target",
                        evs,
                        e.address,
                        severity=Severity.CRITICAL if d.kind in ("fail", "unrouteable") else Severity.WARNING,
                        target=target,
                        outcome=_outcome(d),
                        **f,
                    )
                )
                return

    def srs(self, state: SrsState) -> None:
        if state.configured or not self.external:
            return
        for domain, items in sorted(self.external.items()):
            targets = sorted({t for _e, t in items})
            evs = [self.ev(e) for e, _t in items[:MAX_EVIDENCE]]
            self.findings.append(
                make_finding(
                    "forwarders.external_no_srs",
                    evs,
                    domain,
                    domain=domain,
                    count=len(items),
                    targets=", ".join(targets[:5]) + (" ..." if len(targets) > 5 else ""),
                    srs_checked=", ".join(state.checked) or "no Exim or Postfix configuration under the root",
                )
            )


def _targets(e: AliasEntry) -> str:
    return ", ".join(t.render() for t in e.targets)


def diagnose_forwarders(root: Path, domain: str | None = None) -> tuple[list[Finding], dict[str, Any]]:
    """All forwarder findings under root (optionally one domain) and a summary for JSON output."""
    inv = read_inventory(root, domain)
    a = _Analysis(root, inv)
    a.run()
    for path, error in inv.unreadable:
        a.findings.append(
            make_finding("forwarders.unreadable", [Evidence("file", error, path)], path, path=path, error=error)
        )
    srs = read_srs_state(root)
    data: dict[str, Any] = {
        "root": str(root),
        "domain": domain,
        "entries": len(inv.entries),
        "pipes": a.pipes,
        "files": sorted({server_path(root, e.file) for e in inv.entries}),
        "srs": {"configured": srs.configured, "source": srs.source, "line": srs.line},
    }
    return a.findings, data
