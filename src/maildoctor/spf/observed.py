"""Which IPs really sent mail for a domain, according to mail logs (Exim, Postfix) and SPF header lines.

The log engine (`maildoctor.logs`) reads and parses the lines; this module decides, per event, that
  * an unauthenticated SMTP client whose mail from @DOMAIN was accepted is a sender (Exim `<=`;
    Postfix smtpd `client=` joined with qmgr `from=` by queue id), and so is a `Received-SPF` line's client-ip;
  * so is this server's own outgoing interface (Exim I=[ip] on `=>`/`->`/`>>`/`==`/`**` lines) for mail from @DOMAIN;
  * authenticated submissions (A=, P=esmtpa/esmtpsa, sasl_username=) are not: the server relays them with its own IP;
  * clients refused at SMTP time while claiming DOMAIN (often forgeries) are listed apart, never added;
  * loopback, RFC 1918 and other local addresses are set aside: receivers never see them.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from maildoctor.errors import InputError
from maildoctor.logs import exim, postfix
from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.read import LogReader
from maildoctor.logs.scan import EXIM_IDS, line_id

_HDR = re.compile(r"client-ip=\"?([0-9A-Fa-f:.]+).*?envelope-from=\"?<?([^\s\";>]+)")
_OUTGOING = frozenset({EventKind.DELIVERY, EventKind.ADDITIONAL, EventKind.CUTTHROUGH,
                       EventKind.DEFERRAL, EventKind.FAILURE})  # a remote host was talked to
_REFUSED = frozenset({EventKind.REJECT_MAIL, EventKind.REJECT_RCPT, EventKind.REJECT_DATA})
_V = TypeVar("_V")
_MAX_PENDING = 100_000  # bound memory: ids waiting for their other half
_LOCAL_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"))


@dataclass
class ObservedSenders:
    domain: str
    senders: Counter[str] = field(default_factory=Counter)  # public IP -> messages
    ignored: Counter[str] = field(default_factory=Counter)  # non-global IP -> messages
    rejected: Counter[str] = field(default_factory=Counter)  # refused at SMTP time: maybe forged, never added
    evidence: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # ip -> (file, line, text)
    lines: int = 0

    def note(self, ip_text: str, source: str, number: int, line: str, *, rejected: bool = False) -> None:
        try:
            ip = ipaddress.ip_address(ip_text)
        except ValueError:
            return
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        key = str(ip)
        if not _routable(ip):
            self.ignored[key] += 1
        elif rejected:
            self.rejected[key] += 1
        else:
            self.senders[key] += 1
            self.evidence.setdefault(key, (source, number, line.strip()[:300]))


def _routable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """False for loopback, RFC 1918/6598/4193 private, link-local, unspecified and multicast addresses.
    Documentation ranges stay: test labs send from them and receivers would check them."""
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return False
    return not any(ip.version == n.version and ip in n for n in _LOCAL_NETS)


class _Scanner:
    def __init__(self, domain: str) -> None:
        self.domain = domain.lower().rstrip(".")
        self.domain_b = self.domain.encode("idna") if not self.domain.isascii() else self.domain.encode()
        self.out = ObservedSenders(self.domain)
        self.exim_ours: OrderedDict[str, bool] = OrderedDict()  # Exim id -> sender is @domain
        self.pf_clients: OrderedDict[str, tuple[str, str, int, str]] = OrderedDict()  # queue id -> client

    def wants(self, raw: bytes) -> bool:
        """The reader's prefilter: only lines that can matter are parsed, most of a busy log is not.
        They name the domain (an arrival, a rejection, qmgr from=, Received-SPF), are Postfix
        client= lines (remembered until their from=), or carry an outgoing interface for a message
        from the domain (the id in the Exim prefix; syslog-wrapped Exim lines are parsed)."""
        if self.domain_b in raw.lower() or b"client=" in raw:
            return True
        if b" I=[" not in raw:
            return False
        mid = line_id(raw, EXIM_IDS)
        return self.exim_ours.get(mid.decode(), False) if mid is not None else b"exim[" in raw

    def ours(self, sender: str | None) -> bool:
        d = (sender or "").rpartition("@")[2].rstrip(".>").lower()
        return d == self.domain or d.endswith("." + self.domain)

    def event(self, ev: LogEvent) -> None:
        kind, qid = ev.kind, ev.message_id
        if kind is EventKind.ARRIVAL and ev.format == "postfix":  # qmgr from=, the other half of client=
            client = self.pf_clients.pop(qid, None) if qid else None
            if client is not None and self.ours(ev.sender):
                self.out.note(*client)
        elif kind is EventKind.ARRIVAL:  # Exim <=
            ours = self.ours(ev.sender)
            if qid:
                _remember(self.exim_ours, qid, ours)
            proto = ev.protocol or ""  # esmtpa/esmtpsa: authenticated even when A= is not logged
            if ours and ev.remote_ip and not (ev.auth_id or proto.endswith(("esmtpa", "esmtpsa"))
                                              or proto.startswith("local")):
                self.out.note(ev.remote_ip, ev.source, ev.line_no, ev.raw)
        elif kind is EventKind.MESSAGE_INFO and qid and ev.remote_ip and "client" in ev.extra:  # Postfix client=
            if ev.auth_id is None:
                _remember(self.pf_clients, qid, (ev.remote_ip, ev.source, ev.line_no, ev.raw))
        elif kind in _OUTGOING and ev.format == "exim":
            known = self.exim_ours.get(qid) if qid else None
            # arrival not seen (older log): the line may name the sender itself (F=, P=)
            ours = known if known is not None else self.ours(ev.sender or ev.extra.get("return_path"))
            iface = ev.extra.get("interface_ip")
            if ours and iface:
                self.out.note(iface, ev.source, ev.line_no, ev.raw)
        elif kind in _REFUSED:
            if qid:
                self.pf_clients.pop(qid, None)
            if ev.remote_ip and self.ours(ev.sender):
                self.out.note(ev.remote_ip, ev.source, ev.line_no, ev.raw, rejected=True)
        elif (m := _HDR.search(ev.raw)) is not None and self.ours(m.group(2)):
            self.out.note(m.group(1), ev.source, ev.line_no, ev.raw)


def _remember(table: OrderedDict[str, _V], key: str, value: _V) -> None:
    table[key] = value
    if len(table) > _MAX_PENDING:
        table.popitem(last=False)


def _parse_any(line: str, source: str, number: int) -> LogEvent:
    """One line of unknown format: Exim, else Postfix, else Exim's UNKNOWN/CONTINUATION event."""
    ev = exim.parse_line(line, None, source, number)
    if ev.kind in (EventKind.UNKNOWN, EventKind.CONTINUATION):
        pf = postfix.parse_line(line, None, source, number)
        if pf.kind is not EventKind.UNKNOWN:
            return pf
    return ev


def analyze_lines(lines: Iterable[str], domain: str, source: str = "-") -> ObservedSenders:
    """Senders of DOMAIN in LINES (pure); each line may be Exim, Postfix or a Received-SPF header."""
    scan = _Scanner(domain)
    for number, line in enumerate(lines, 1):
        scan.out.lines += 1
        scan.event(_parse_any(line.rstrip("\r\n"), source, number))
    return scan.out


def read_observed_senders(paths: Iterable[Path | str], domain: str) -> ObservedSenders:
    """Senders of DOMAIN in the log files (plain, compressed, rotated sets, '-' for stdin);
    raises InputError naming the first file that is unreadable or not a mail log."""
    scan = _Scanner(domain)
    reader = LogReader(list(paths), only=scan.wants)
    for ev in reader:
        if reader.problems:
            break
        scan.event(ev)
    if reader.problems:
        raise InputError(str(reader.problems[0]))
    scan.out.lines = reader.lines_read
    return scan.out
