"""`exim -bt ADDRESS` output: parsed, explained, and compared with maildoctor's own routing.

The line shapes (Exim 4.9x) are classified by the ``bt.*`` entries of kb/forwarders.toml.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass, field, replace

from maildoctor import kb
from maildoctor.errors import CannotRunError
from maildoctor.server.routing import Route

REMOTE_ROUTERS = ("dnslookup", "lookuphost", "manualroute", "smarthost", "send_to_smart_host", "fail_remote_domains")
REMOTE_TRANSPORTS = ("remote_smtp", "remote_smtp_smarthost", "dkim_remote_smtp", "remote_forwarded_smtp")


@dataclass(frozen=True, slots=True)
class BtItem:
    """One result block of `exim -bt`: kind is undeliverable | discarded | deferred | pipe | file | routed."""

    address: str
    kind: str
    detail: str = ""  # the failure text, the pipe command or file, or ""
    router: str = ""
    transport: str = ""
    parents: tuple[str, ...] = field(default_factory=tuple)


def parse_exim_bt(text: str) -> list[BtItem]:
    """Parse `exim -bt` output into result blocks; lines it does not know are skipped."""
    kbf = kb.load("forwarders")
    items: list[BtItem] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("LOG:"):
            continue
        hit = None
        for entry in kbf:
            if entry.id.startswith("bt."):
                m = entry.search(line)
                if m:
                    hit = (entry.id, m)
                    break
        if hit is None:
            if not line[:1].isspace() and " " not in line.strip():
                items.append(BtItem(line.strip(), "routed"))  # a bare address: router/transport follow
            continue
        eid, m = hit
        g = m.groupdict()
        if eid == "bt.undeliverable":
            items.append(BtItem(g["address"], "undeliverable", g["text"].strip()))
        elif eid == "bt.discarded":
            items.append(BtItem(g["address"], "discarded"))
        elif eid == "bt.deferred":
            items.append(BtItem(g["address"], "deferred", g["text"].strip()))
        elif eid == "bt.redirect":
            target = g["target"].strip()
            kind = "pipe" if target.startswith("|") else "file"
            items.append(BtItem(g["address"], kind, target.lstrip("|").strip()))
        elif items and eid == "bt.parent":
            items[-1] = replace(items[-1], parents=(*items[-1].parents, g["address"]))
        elif items and eid == "bt.router":
            items[-1] = replace(items[-1], router=g["router"], transport=g["transport"])
        elif items and eid == "bt.transport":
            items[-1] = replace(items[-1], transport=g["transport"])
    return items


def explain_bt_item(item: BtItem) -> str:
    """One plain sentence for an `exim -bt` result."""
    via = f" (forwarded from {' <- '.join(item.parents)})" if item.parents else ""
    if item.kind == "undeliverable":
        if item.detail == "Unrouteable address":
            return (
                f"{item.address}: no router accepted it (no mailbox or forwarder here; for another server's "
                f"domain, DNS gave no usable MX or A record); a sender gets 'Unrouteable address'{via}."
            )
        return (
            f'{item.address}: rejected/bounced with "{item.detail}" (a :fail: forwarder or a router\'s message){via}.'
        )
    if item.kind == "discarded":
        return f"{item.address}: accepted and thrown away by a :blackhole: forwarder{via}."
    if item.kind == "deferred":
        return f"{item.address}: cannot be routed now, Exim would queue and retry: {item.detail}{via}."
    if item.kind == "pipe":
        return f"{item.address}: piped to '{item.detail}' by transport {item.transport or '?'}{via}."
    if item.kind == "file":
        return f"{item.address}: appended to the file {item.detail} by transport {item.transport or '?'}{via}."
    where = "to another server" if is_remote(item) else "to a local mailbox"
    return f"{item.address}: delivered {where} by router {item.router}, transport {item.transport}{via}."


def is_remote(item: BtItem) -> bool:
    return item.router in REMOTE_ROUTERS or item.transport in REMOTE_TRANSPORTS or "smtp" in item.transport


def _bt_key(item: BtItem) -> tuple[str, str]:
    if item.kind == "undeliverable":
        return ("undeliverable", item.detail)
    if item.kind in ("pipe", "file"):
        return (item.kind, item.detail)
    if item.kind == "routed":
        return ("remote" if is_remote(item) else "mailbox", item.address.lower())
    return (item.kind, item.address.lower())


def _route_keys(route: Route) -> list[tuple[str, str]]:
    out = []
    for d in route.deliveries:
        if d.kind == "fail":
            out.append(("undeliverable", d.value))
        elif d.kind == "unrouteable":
            out.append(("undeliverable", "Unrouteable address"))
        elif d.kind == "blackhole":
            out.append(("discarded", d.address.lower()))
        elif d.kind in ("pipe", "file"):
            out.append((d.kind, d.value))
        elif d.kind == "defer":
            out.append(("deferred", d.address.lower()))
        else:
            out.append((d.kind, d.address.lower()))
    return out


def compare_route(route: Route, items: list[BtItem]) -> list[str]:
    """Differences between maildoctor's route and Exim's; [] when they agree.

    A remote address that Exim calls 'Unrouteable address' (no DNS for it here) counts as agreeing.
    A :fail: without text matches any Exim failure text.
    """
    mine = Counter(_route_keys(route))
    theirs = Counter(_bt_key(i) for i in items)
    for d in route.deliveries:
        if (
            d.kind == "remote"
            and theirs[("undeliverable", "Unrouteable address")]
            and not theirs[("remote", d.address)]
        ):
            theirs[("undeliverable", "Unrouteable address")] -= 1
            theirs[("remote", d.address.lower())] += 1
    only_mine = mine - theirs
    only_theirs = theirs - mine
    out = [f"maildoctor says {k} {v!r}, exim -bt does not" for (k, v), n in only_mine.items() for _ in range(n)]
    out += [f"exim -bt says {k} {v!r}, maildoctor does not" for (k, v), n in only_theirs.items() for _ in range(n)]
    return out


def run_exim_bt(address: str, exim: str = "exim") -> str:
    """Run `exim -bt ADDRESS` on this host (read-only: address testing delivers nothing)."""
    try:
        proc = subprocess.run([exim, "-bt", address], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CannotRunError(f"could not run {exim} -bt: {exc}") from exc
    return proc.stdout + proc.stderr
