"""Which IPs really sent mail for a domain, according to mail logs (Exim, Postfix) and SPF header lines.

Counted as a sender of DOMAIN:
  * an unauthenticated SMTP client whose mail with MAIL FROM @DOMAIN was accepted (Exim `<=` with
    H=[ip] and no A=, Postfix smtpd client= joined with qmgr from=, Received-SPF lines with client-ip
    and the sender);
  * this server's own outgoing interface (Exim I=[ip] on `=>`/`->` lines) for messages from @DOMAIN.
Authenticated submissions (A=, sasl_username=) are not: the server relays them, with its own IP.
Clients refused at SMTP time while claiming DOMAIN (often forgeries) are listed apart, never added.
Loopback, RFC 1918 and other local addresses are set aside: receivers never see them.
"""

from __future__ import annotations

import ipaddress
import lzma
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.errors import InputError

_IP = r"([0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)"
_EXIM_ID = r"([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})"
_EXIM_ARRIVAL = re.compile(rf"\s{_EXIM_ID} <= (\S*)")
_EXIM_DELIVERY = re.compile(rf"\s{_EXIM_ID} (?:=>|->|\*>|\*\*|==) ")  # also failed/deferred tries
_EXIM_HOST = re.compile(rf"\sH=[^\[\n]*\[{_IP}\]")
_EXIM_IFACE = re.compile(rf"\sI=\[{_IP}\]")
_EXIM_REJECT_FROM = re.compile(r"\sF=<([^>]*)>")
_EXIM_SMTP_REJECT = re.compile(r"\s(?:temporarily )?rejected (?:RCPT|MAIL|after DATA|DATA)\b")
_PF_CLIENT = re.compile(rf"[\s/]smtpd\[\d+\]: ([0-9A-Za-z]+): client=[^\s\[]*\[{_IP}\]")
_PF_SASL = re.compile(r"sasl_username=")
_PF_FROM = re.compile(r"[\s/](?:qmgr|cleanup)\[\d+\]: ([0-9A-Za-z]+): from=<([^>]*)>")
_PF_NOQUEUE = re.compile(rf"NOQUEUE: \w+: \w+ from [^\s\[]*\[{_IP}\].*?\bfrom=<([^>]*)>")
_HDR = re.compile(rf"client-ip=\"?{_IP}.*?envelope-from=\"?<?([^\s\";>]+)", re.IGNORECASE)
_MAX_PENDING = 100_000  # bound memory: ids waiting for their other half


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
            return
        if rejected:
            self.rejected[key] += 1
            return
        self.senders[key] += 1
        self.evidence.setdefault(key, (source, number, line.strip()[:300]))


_LOCAL_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"))


def _routable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """False for loopback, RFC 1918/6598/4193 private, link-local, unspecified and multicast addresses.
    Documentation ranges stay: test labs send from them and receivers would check them."""
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return False
    return not any(ip.version == n.version and ip in n for n in _LOCAL_NETS)


def _domain_of(sender: str) -> str:
    return sender.rpartition("@")[2].rstrip(".>").lower()


class _Scanner:
    def __init__(self, domain: str) -> None:
        self.domain = domain.lower().rstrip(".")
        self.out = ObservedSenders(self.domain)
        self.exim_ours: OrderedDict[str, bool] = OrderedDict()  # message id -> sender is @domain
        self.pf_client: OrderedDict[str, tuple[str, int, str, str]] = OrderedDict()

    def ours(self, sender: str) -> bool:
        d = _domain_of(sender)
        return d == self.domain or d.endswith("." + self.domain)

    def _remember(self, table: OrderedDict[str, object], key: str, value: object) -> None:
        table[key] = value
        if len(table) > _MAX_PENDING:
            table.popitem(last=False)

    def line(self, text: str, source: str, number: int) -> None:
        self.out.lines += 1
        m = _EXIM_ARRIVAL.search(text)
        if m:
            ours = self.ours(m.group(2))
            self._remember(self.exim_ours, m.group(1), ours)  # type: ignore[arg-type]
            host = _EXIM_HOST.search(text)
            if ours and host and " A=" not in text and " P=local" not in text:
                self.out.note(host.group(1), source, number, text)
            return
        m = _EXIM_DELIVERY.search(text)
        if m:
            iface = _EXIM_IFACE.search(text)
            if iface and self.exim_ours.get(m.group(1)):
                self.out.note(iface.group(1), source, number, text)
            return
        m = _EXIM_REJECT_FROM.search(text)
        if m and _EXIM_SMTP_REJECT.search(text):
            host = _EXIM_HOST.search(text)
            if host and self.ours(m.group(1)):
                self.out.note(host.group(1), source, number, text, rejected=True)
            return
        m = _PF_CLIENT.search(text)
        if m:
            if not _PF_SASL.search(text):
                self._remember(self.pf_client, m.group(1), (m.group(2), number, text, source))  # type: ignore[arg-type]
            return
        m = _PF_FROM.search(text)
        if m:
            client = self.pf_client.pop(m.group(1), None)
            if client and self.ours(m.group(2)):
                self.out.note(client[0], client[3], client[1], client[2])
            return
        m = _PF_NOQUEUE.search(text)
        if m:
            if self.ours(m.group(2)):
                self.out.note(m.group(1), source, number, text, rejected=True)
            return
        m = _HDR.search(text)
        if m and self.ours(m.group(2)):
            self.out.note(m.group(1), source, number, text)


def analyze_lines(lines: Iterable[str], domain: str, source: str = "-") -> ObservedSenders:
    """Senders of DOMAIN in LINES (pure)."""
    scan = _Scanner(domain)
    for number, line in enumerate(lines, 1):
        scan.line(line, source, number)
    return scan.out


def read_observed_senders(paths: Iterable[Path | str], domain: str) -> ObservedSenders:
    """Senders of DOMAIN in the log files (plain or compressed); raises InputError for unreadable files."""
    from maildoctor.logs.read import open_binary, probe_log

    scan = _Scanner(domain)
    for path in paths:
        problem = probe_log(Path(path)) if str(path) != "-" else None
        if problem:
            raise InputError(f"{path}: {problem}")
        try:
            with open_binary(path) as fh:
                for number, raw in enumerate(fh, 1):
                    scan.line(raw.decode("utf-8", errors="replace"), str(path), number)
        except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
            raise InputError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc
    return scan.out
