"""A mail client's attempts in the server log: logins that failed, rejections, TLS errors, sent mail.

Reads the log through the log engine (plain, compressed and rotated files) and keeps the events
that name the client's address (as SMTP-auth login, sender or recipient) or come from its IP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.logs.events import EventKind, LogEvent

INTERESTING = {
    EventKind.AUTH_FAILURE: "login failed",
    EventKind.REJECT_CONNECTION: "connection rejected",
    EventKind.REJECT_HELO: "HELO rejected",
    EventKind.REJECT_MAIL: "sender rejected",
    EventKind.REJECT_RCPT: "recipient rejected",
    EventKind.REJECT_DATA: "message rejected",
    EventKind.REJECT: "rejected",
    EventKind.TLS_ERROR: "TLS error",
    EventKind.ARRIVAL: "accepted",
}
MAX_SHOWN = 20


@dataclass
class ClientActivity:
    """Counts per kind and the most recent matching lines (file:line, text)."""

    address: str
    ip: str
    counts: Counter[str] = field(default_factory=Counter)
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (label, location, raw line)
    clients: Counter[str] = field(default_factory=Counter)  # IPs seen for this address

    def as_dict(self) -> dict[str, object]:
        return {"address": self.address, "ip": self.ip, "counts": dict(self.counts),
                "client_ips": dict(self.clients.most_common(10)),
                "lines": [{"kind": k, "location": loc, "line": raw} for k, loc, raw in self.lines]}


def _matches(ev: LogEvent, address: str, ip: str) -> bool:
    if ip and ev.remote_ip == ip:
        return True
    if not address:
        return False
    low = address.lower()
    for value in (ev.auth_id, ev.sender, ev.recipient):
        if value and value.lower() == low:
            return True
    return ev.kind in (EventKind.AUTH_FAILURE, EventKind.REJECT_MAIL, EventKind.REJECT_RCPT) and low in ev.raw.lower()


def analyze_client(events: Iterable[LogEvent], address: str, ip: str = "") -> ClientActivity:
    """Keep the events of one client (by address or IP), counting each kind (pure)."""
    act = ClientActivity(address, ip)
    for ev in events:
        label = INTERESTING.get(ev.kind)
        if label is None or not _matches(ev, address, ip):
            continue
        if ev.kind is EventKind.ARRIVAL and not ev.auth_id:
            continue  # only mail the client itself submitted
        act.counts[label] += 1
        if ev.remote_ip:
            act.clients[ev.remote_ip] += 1
        act.lines.append((label, ev.location(), ev.raw))
        if len(act.lines) > MAX_SHOWN:
            del act.lines[0]
    return act


def read_client_activity(path: Path, address: str, ip: str = "") -> tuple[ClientActivity, list[str]]:
    """Scan a log file (or rotated set) for the client; returns the activity and input problems."""
    from maildoctor.logs.read import LogReader

    reader = LogReader([path])
    act = analyze_client(reader, address, ip)
    return act, [str(p) for p in reader.problems]
