"""How this server routes one address, from the files under a root (no exec, no DNS).

The router order is the one cPanel's Exim configuration uses, which also covers DirectAdmin,
Postfix virtual maps and a plain Debian Exim:

1. a domain that is not local goes to a remote host (dnslookup);
2. an exact forwarder for ``local@domain`` (valiases, DirectAdmin aliases, Postfix virtual);
3. a mailbox of that address;
4. a domain forwarder (vdomainaliases) rewrites the domain;
5. the domain's default address ``*`` (what unknown addresses get);
6. otherwise the address is unrouteable.

Bare local parts (``*: alice`` in valiases, /etc/aliases targets) go through the system routers:
/etc/aliases, the user's ~/.forward, the user's mailbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.server.accounts import (
    account_for_domain,
    find_account,
    find_mailbox,
    is_local_domain,
    qualify_domain,
    read_passwd,
    read_userdomains,
    system_mailbox,
)
from maildoctor.server.aliases import (
    AliasEntry,
    AliasTarget,
    parse_targets,
    read_domain_aliases,
    read_postfix_aliases,
    read_system_aliases,
    read_text,
    read_vdomainaliases,
    under,
)
from maildoctor.server.eximrouters import read_alias_router
from maildoctor.server.forward import read_forward

MAX_DEPTH = 20  # Exim gives up far later; 20 redirections is already a misconfiguration

OUTCOMES = ("mailbox", "pipe", "file", "fail", "defer", "blackhole", "remote", "unrouteable", "loop")


@dataclass(frozen=True, slots=True)
class Hop:
    """One redirection that the address went through: which file and line sent it onwards."""

    address: str
    # valiases | valiases-default | directadmin | postfix-virtual | vdomainaliases | aliases | forward | include
    via: str
    file: Path | None
    line: int | None
    raw: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where one branch of the address ends up.

    kind: mailbox | pipe | file | fail | defer | blackhole | remote | unrouteable | loop.
    value: the maildir, the pipe command, the file path, the :fail: text, the remote address.
    account: the account whose uid runs a pipe or file delivery (the domain owner on cPanel).
    """

    kind: str
    address: str
    value: str = ""
    hops: tuple[Hop, ...] = ()
    account: str | None = None
    exists: bool | None = None  # for mailboxes: is the maildir there

    @property
    def chain(self) -> tuple[str, ...]:
        """The addresses this delivery went through, first to last (repeats included)."""
        out = [h.address for h in self.hops]
        if not out or out[-1] != self.address:
            out.append(self.address)
        return tuple(out)

    @property
    def loop(self) -> tuple[str, ...]:
        """The cycle when the chain comes back to an earlier address (a -> b -> a), else ().

        An address forwarding to itself (``a: a, b`` keeps a copy) is not a loop.
        """
        chain = [h.address for h in self.hops] + [self.address]
        for i, addr in enumerate(chain):
            for j in range(i + 2, len(chain)):
                if chain[j] == addr and any(c != addr for c in chain[i + 1 : j]):
                    return tuple(chain[i : j + 1])
        return ()


@dataclass(frozen=True, slots=True)
class Route:
    address: str
    deliveries: tuple[Delivery, ...] = field(default_factory=tuple)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(d.kind for d in self.deliveries)


def _split(address: str) -> tuple[str, str]:
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at:
        return address.strip().lower(), ""
    return local.lower(), domain.lower().rstrip(".")


def _lookup(entries: list[AliasEntry], local: str) -> AliasEntry | None:
    """First match wins, as with Exim's lsearch."""
    for e in entries:
        if e.local_part == local:
            return e
    return None


def _index(entries: list[AliasEntry]) -> dict[str, AliasEntry]:
    """local part -> the first entry for it (Exim's lsearch takes the first matching line)."""
    out: dict[str, AliasEntry] = {}
    for e in entries:
        out.setdefault(e.local_part, e)
    return out


@dataclass
class _DomainData:
    local: bool
    exact: dict[str, AliasEntry]  # all sources, first line wins
    virtual: dict[str, AliasEntry]  # Postfix virtual only (applies to non-local domains too)
    default: AliasEntry | None
    domain_aliases: list[AliasEntry]


class Router:
    """Routes addresses over one root; reuse one instance to route many addresses (files are read once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.owners = read_userdomains(root)
        self.system_aliases = read_system_aliases(root) + read_postfix_aliases(root)
        # Exim qualifies a bare local part with qualify_domain (the host name); those addresses
        # and @localhost go through the system routers (aliases, .forward, the user's mailbox).
        self.qualify = qualify_domain(root)
        self.system_domains = {"localhost", *([self.qualify] if self.qualify else [])}
        self._domains: dict[str, _DomainData] = {}
        self.alias_router = read_alias_router(root)
        self._system_index = _index(self.system_aliases)

    def domain(self, domain: str) -> _DomainData:
        data = self._domains.get(domain)
        if data is None:
            per_domain = read_domain_aliases(self.root, domain)
            data = _DomainData(
                local=is_local_domain(self.root, domain),
                exact=_index([e for e in per_domain if not e.is_default]),
                virtual=_index([e for e in per_domain if e.source == "postfix-virtual" and not e.is_default]),
                default=_lookup([e for e in per_domain if e.is_default], "*"),
                domain_aliases=read_vdomainaliases(self.root, domain),
            )
            self._domains[domain] = data
        return data

    def route(self, address: str) -> Route:
        return Route(address, tuple(self._route(address, (), frozenset(), None)))

    def _route(
        self, address: str, hops: tuple[Hop, ...], seen: frozenset[tuple[str, str]], acct: str | None
    ) -> Iterator[Delivery]:
        local, domain = _split(address)
        key = f"{local}@{domain}" if domain else local
        if len(hops) >= MAX_DEPTH:
            yield Delivery("loop", key, "too many redirections", hops, acct)
            return

        # Exim skips a router that already redirected this same address higher up the chain
        # (that is how it breaks a -> b -> a); the address then falls through to later routers.
        def skip(router: str) -> bool:
            return (key, router) in seen

        if not domain or domain in self.system_domains:
            yield from self._route_system(local, hops, seen, acct)
            return
        dd = self.domain(domain)
        if not dd.local:
            # Postfix virtual_alias_maps rewrite any domain, local or not.
            entry = dd.virtual.get(local)
            if entry is not None and not skip("alias"):
                yield from self._expand([entry], entry.source, hops, seen | {(key, "alias")}, acct)
                return
            yield Delivery("remote", key, key, hops, acct)
            return
        owner = self.owners.get(domain)
        entry = dd.exact.get(local)
        if entry is not None and not skip("alias"):
            yield from self._expand([entry], entry.source, hops, seen | {(key, "alias")}, owner)
            if not (self.alias_router and self.alias_router.unseen and entry.source == "valiases"):
                return
            # An `unseen` forwarder router: the address also goes on to the mailbox (or default).
            yield from self._route(address, hops, seen | {(key, "alias")}, acct)
            return
        mailbox = find_mailbox(self.root, key)
        if mailbox is not None:
            yield Delivery("mailbox", key, str(mailbox.path), hops, owner, mailbox.exists)
            return
        for dom_alias in dd.domain_aliases:
            if skip("vdomainaliases"):
                break
            target = dom_alias.targets[0].value
            hop = Hop(key, "vdomainaliases", dom_alias.file, dom_alias.line, dom_alias.raw)
            yield from self._route(f"{local}@{target}", (*hops, hop), seen | {(key, "vdomainaliases")}, owner)
            return
        default = dd.default
        if default is not None and not skip("default"):
            via = f"{default.source}-default"
            yield from self._expand([default], via, hops, seen | {(key, "default")}, owner, key)
            return
        yield Delivery("unrouteable", key, "Unrouteable address", hops, owner)

    def _route_system(
        self, local: str, hops: tuple[Hop, ...], seen: frozenset[tuple[str, str]], acct: str | None
    ) -> Iterator[Delivery]:
        shown = f"{local}@{self.qualify}" if self.qualify else local
        entry = self._system_index.get(local)
        if entry is not None and (local, "aliases") not in seen:
            yield from self._expand([entry], entry.source, hops, seen | {(local, "aliases")}, acct)
            return
        account = find_account(self.root, local)
        if account is not None and (local in read_passwd(self.root) or local in self.owners.values()):
            forward = read_forward(self.root, local, account.home)
            if forward and (local, "forward") not in seen:
                yield from self._expand(forward, "forward", hops, seen | {(local, "forward")}, local)
                return
            if local in self.owners.values():  # a cPanel account's own mailbox
                path = under(self.root, account.home) / "mail"
                yield Delivery("mailbox", shown, str(path), hops, local, path.is_dir())
                return
        mailbox = system_mailbox(self.root, local)
        if mailbox is not None:
            yield Delivery("mailbox", shown, str(mailbox.path), hops, local, mailbox.exists)
            return
        yield Delivery("unrouteable", shown, "Unrouteable address", hops, acct)

    def _expand(
        self,
        entries: list[AliasEntry],
        via: str,
        hops: tuple[Hop, ...],
        seen: frozenset[tuple[str, str]],
        acct: str | None,
        key: str = "",
    ) -> Iterator[Delivery]:
        for entry in entries:
            hop = Hop(key or entry.address, via, entry.file, entry.line, entry.raw)
            yield from self._targets(entry.targets, (*hops, hop), seen, acct, entry.domain)

    def _targets(
        self,
        targets: tuple[AliasTarget, ...],
        hops: tuple[Hop, ...],
        seen: frozenset[tuple[str, str]],
        acct: str | None,
        domain: str,
    ) -> Iterator[Delivery]:
        addr = hops[-1].address if hops else ""
        for t in targets:
            if t.kind == "address":
                yield from self._route(t.value, hops, seen, acct)
            elif t.kind == "local":
                mailbox = system_mailbox(self.root, t.value)
                if t.value in self.owners.values():
                    account = find_account(self.root, t.value)
                    home = under(self.root, account.home) / "mail" if account else Path()
                    yield Delivery("mailbox", t.value, str(home), hops, t.value, home.is_dir())
                elif mailbox is not None:
                    yield Delivery("mailbox", t.value, str(mailbox.path), hops, t.value, mailbox.exists)
                else:
                    yield Delivery("unrouteable", t.value, "Unrouteable address", hops, acct)
            elif t.kind == "include":
                path = under(self.root, t.value)
                if not path.is_file():
                    yield Delivery("defer", addr, f"failed to open included file {t.value}", hops, acct)
                    continue
                inc = parse_targets(read_text(path))
                hop = Hop(addr, "include", path, 1, t.render())
                yield from self._targets(inc, (*hops, hop), seen, acct, domain)
            elif t.kind == "unknown":
                continue  # behaves as though the alias were not there; rare, not followed further
            else:
                owner = acct or (self.owners.get(domain) if domain else None)
                yield Delivery(t.kind, addr, t.value, hops, owner)


def route_address(root: Path, address: str) -> Route:
    """Every place `address` ends up on this server, with the files and lines that send it there."""
    return Router(root).route(address)


def domain_owner(root: Path, domain: str) -> str | None:
    acct = account_for_domain(root, domain)
    return acct.name if acct else None
