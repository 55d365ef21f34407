"""The project's one DNS interface: a small `Resolver` protocol, a dnspython implementation and a
zone-data stub for tests.

Every answer is a `DnsAnswer` value; nothing is raised for DNS outcomes. NXDOMAIN, SERVFAIL and
timeouts are statuses, so callers decide what a failure means (SPF turns SERVFAIL/TIMEOUT into
temperror, NXDOMAIN into a void lookup). Only a bad `--dns-server` value raises (`UsageError`),
and a host without any resolver configuration raises `CannotRunError`.

Record text forms (``DnsAnswer.records``):
  A/AAAA  the address ("192.0.2.1", "2001:db8::1", compressed form)
  MX      "PREF EXCHANGE" ("10 mx.example.com"; exchange without trailing dot; "." kept as "")
  PTR/CNAME/NS the target name without trailing dot
  TXT/SPF the character-strings joined with no separator (RFC 7208 §3.3); the separate strings
          are in ``DnsAnswer.strings`` (one tuple per record)
Names are compared case-insensitively; answers keep the case the server sent.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from maildoctor.errors import CannotRunError, UsageError

NOERROR = "NOERROR"
NXDOMAIN = "NXDOMAIN"
SERVFAIL = "SERVFAIL"
TIMEOUT = "TIMEOUT"
BADNAME = "BADNAME"  # the name cannot be put on the wire (label > 63 octets, empty label, > 253 octets)

TEMPORARY_STATUSES = frozenset({SERVFAIL, TIMEOUT, "REFUSED", "NOTIMP", "FORMERR"})

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """The outcome of one query. `status` is an RCODE name, TIMEOUT or BADNAME."""

    name: str
    rdtype: str
    status: str = NOERROR
    records: tuple[str, ...] = ()
    strings: tuple[tuple[str, ...], ...] = ()  # TXT/SPF only: the character-strings of each record
    cnames: tuple[str, ...] = ()  # aliases followed, in order (name -> cnames[0] -> ...)
    error: str = ""  # human text for a failure (timeout details, server named)
    server: str = ""  # which server answered ("system" or HOST:PORT or "stub")

    @property
    def ok(self) -> bool:
        return self.status == NOERROR

    @property
    def temporary(self) -> bool:
        """A failure that may go away: SERVFAIL, TIMEOUT, REFUSED... (SPF: temperror)."""
        return self.status in TEMPORARY_STATUSES

    @property
    def void(self) -> bool:
        """No data: NXDOMAIN, or NOERROR with an empty answer (RFC 7208 §4.6.4 'void lookup')."""
        return self.status in (NXDOMAIN, BADNAME) or (self.status == NOERROR and not self.records)

    def describe(self) -> str:
        """One line for traces and evidence: 'example.com TXT -> NOERROR "v=spf1 -all"'."""
        via = f" (via CNAME {' -> '.join(self.cnames)})" if self.cnames else ""
        if self.status != NOERROR:
            extra = f": {self.error}" if self.error else ""
            return f"{self.name} {self.rdtype} -> {self.status}{extra}{via}"
        if not self.records:
            return f"{self.name} {self.rdtype} -> NOERROR, no records{via}"
        shown = [f'"{r}"' if self.rdtype in ("TXT", "SPF") else r for r in self.records]
        return f"{self.name} {self.rdtype} -> {', '.join(shown)}{via}"


class Resolver(Protocol):
    """Anything that answers `query`; implementations never raise for DNS outcomes."""

    def query(self, name: str, rdtype: str) -> DnsAnswer: ...


def normalize_name(name: str) -> str:
    return name.rstrip(".").lower()


def name_problem(name: str) -> str | None:
    """Why NAME cannot be queried (RFC 1035 limits), or None when it can."""
    stripped = name[:-1] if name.endswith(".") else name
    if not stripped:
        return "empty name"
    if len(stripped) > 253:
        return f"name longer than 253 characters ({len(stripped)})"
    for label in stripped.split("."):
        if not label:
            return "empty label"
        if len(label) > 63:
            return f"label longer than 63 characters ({len(label)})"
    return None


def reverse_name(ip: str) -> str:
    """The in-addr.arpa / ip6.arpa name for IP (IPv4-mapped IPv6 is reversed as IPv4)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.reverse_pointer


# --------------------------------------------------------------------------- helpers


def lookup_a_aaaa(resolver: Resolver, name: str) -> tuple[list[str], list[DnsAnswer]]:
    """A and AAAA addresses of NAME, with the two answers (for evidence)."""
    answers = [resolver.query(name, "A"), resolver.query(name, "AAAA")]
    return [r for a in answers if a.ok for r in a.records], answers


def parse_mx(record: str) -> tuple[int, str]:
    pref, _, host = record.partition(" ")
    return int(pref), host


def lookup_mx(resolver: Resolver, name: str) -> tuple[list[tuple[int, str]], DnsAnswer]:
    """MX (preference, exchange) pairs sorted by preference, with the answer."""
    answer = resolver.query(name, "MX")
    pairs = sorted(parse_mx(r) for r in answer.records) if answer.ok else []
    return pairs, answer


def reverse_ptr(resolver: Resolver, ip: str) -> tuple[list[str], DnsAnswer]:
    """PTR names of IP, with the answer."""
    answer = resolver.query(reverse_name(ip), "PTR")
    return (list(answer.records) if answer.ok else []), answer


def lookup_txt(resolver: Resolver, name: str) -> DnsAnswer:
    return resolver.query(name, "TXT")


# --------------------------------------------------------------------------- dnspython


def parse_server(spec: str) -> tuple[str, int]:
    """'HOST[:PORT]', '[V6]:PORT' or a bare IPv6 address -> (address, port)."""
    spec = spec.strip()
    if not spec:
        raise UsageError("--dns-server: empty value")
    host, port = spec, 53
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0:
            raise UsageError(f"--dns-server {spec!r}: missing ']'")
        host, rest = spec[1:close], spec[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"--dns-server {spec!r}: expected [ADDRESS]:PORT")
            port = _port(spec, rest[1:])
    elif spec.count(":") == 1:
        host, _, p = spec.partition(":")
        port = _port(spec, p)
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        pass
    try:  # a server given by name: resolve it once with the system resolver
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"--dns-server {spec!r}: cannot resolve {host!r} ({exc})") from exc
    return str(infos[0][4][0]), port


def _port(spec: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"--dns-server {spec!r}: bad port {text!r}")
    return int(text)


class DnspythonResolver:
    """dnspython stub resolver; the system configuration or one named server."""

    def __init__(self, dns_server: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        import dns.resolver

        if dns_server:
            host, port = parse_server(dns_server)
            res = dns.resolver.Resolver(configure=False)
            res.nameservers = [host]
            res.port = port
            self.server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        else:
            try:
                res = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration as exc:
                raise CannotRunError(f"no DNS resolver configured on this host ({exc}); use --dns-server") from exc
            self.server = "system"
        res.lifetime = timeout
        res.timeout = min(timeout, 2.0)
        res.cache = dns.resolver.LRUCache(4096)
        self._res = res

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        import dns.exception
        import dns.name
        import dns.rdatatype
        import dns.resolver

        problem = name_problem(name)
        if problem:
            return DnsAnswer(name, rdtype, BADNAME, error=problem, server=self.server)
        try:
            qname = dns.name.from_text(name)
            ans = self._res.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(name, rdtype, NXDOMAIN, server=self.server)
        except dns.resolver.NoNameservers as exc:
            return DnsAnswer(name, rdtype, SERVFAIL, error=_short(exc), server=self.server)
        except dns.exception.Timeout as exc:
            return DnsAnswer(name, rdtype, TIMEOUT, error=_short(exc), server=self.server)
        except (dns.exception.DNSException, ValueError) as exc:
            return DnsAnswer(name, rdtype, SERVFAIL, error=_short(exc), server=self.server)
        cnames: list[str] = []
        try:
            for rrset in ans.chaining_result.cnames:
                cnames.extend(str(r.target).rstrip(".") for r in rrset)
        except AttributeError:  # older dnspython without chaining_result
            pass
        records: list[str] = []
        strings: list[tuple[str, ...]] = []
        want = dns.rdatatype.from_text(rdtype)
        for rdata in ans.rrset or ():
            if rdata.rdtype != want:
                continue
            if rdtype in ("TXT", "SPF"):
                parts = tuple(_decode(s) for s in rdata.strings)
                strings.append(parts)
                records.append("".join(parts))
            elif rdtype == "MX":
                records.append(f"{rdata.preference} {str(rdata.exchange).rstrip('.')}")
            elif rdtype in ("PTR", "CNAME", "NS"):
                records.append(str(rdata.target).rstrip("."))
            else:
                records.append(rdata.to_text())
        return DnsAnswer(name, rdtype, NOERROR, tuple(records), tuple(strings), tuple(cnames), server=self.server)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:300]


def make_resolver(dns_server: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Resolver:
    """The resolver the CLI uses: dnspython against DNS_SERVER ("HOST[:PORT]") or the system one."""
    return DnspythonResolver(dns_server, timeout)


# --------------------------------------------------------------------------- zone stub


@dataclass
class ZoneResolver:
    """Serves the pyspf/OpenSPF test-suite `zonedata` format from memory.

    zonedata maps a name to a list of entries: ``{TYPE: value}`` (TXT/SPF value a string or a list of
    character-strings, MX ``[pref, host]``), ``{TYPE: "TIMEOUT"}`` (queries of that type time out),
    ``{TYPE: "NONE"}`` (the name exists without that data) or the bare string ``"TIMEOUT"`` (every
    query for the name that has no data listed before it times out). As the suite drivers do, SPF
    records are also served as TXT when the name has no TXT entry. Absent names are NXDOMAIN;
    CNAMEs are followed (a loop is SERVFAIL, as a recursive server reports it).
    """

    zonedata: Mapping[str, Sequence[Any]]
    queries: list[tuple[str, str]] = field(default_factory=list)  # every query asked, for tests
    record_queries: bool = True  # benchmarks turn this off so memory stays flat
    _zone: dict[str, list[Any]] = field(init=False, repr=False)
    _memo: dict[tuple[str, str], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._zone = {}
        self._memo = {}  # the zone never changes: answer each (name, type) once
        self._answers: dict[tuple[str, str], DnsAnswer] = {}
        for name, entries in self.zonedata.items():
            items = list(entries or [])
            has_txt = any(isinstance(e, dict) and "TXT" in e for e in items)
            generated = [] if has_txt else [{"TXT": e["SPF"]} for e in items if isinstance(e, dict) and "SPF" in e]
            self._zone[normalize_name(str(name))] = items + generated

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        if self.record_queries:
            self.queries.append((name, rdtype))
        cached = self._answers.get((name, rdtype))
        if cached is not None:
            return cached
        answer = self._answer(name, rdtype)
        self._answers[(name, rdtype)] = answer
        return answer

    def _answer(self, name: str, rdtype: str) -> DnsAnswer:
        problem = name_problem(name)
        if problem:
            return DnsAnswer(name, rdtype, BADNAME, error=problem, server="stub")
        cnames: list[str] = []
        current = name
        for _ in range(16):
            key = (normalize_name(current), rdtype)
            hit = self._memo.get(key)
            if hit is None:
                hit = self._memo[key] = self._lookup(*key)
            status, records, strings, target = hit
            if target is None:
                return DnsAnswer(name, rdtype, status, records, strings, tuple(cnames), server="stub",
                                 error="simulated timeout" if status == TIMEOUT else "")
            if normalize_name(target) in (normalize_name(c) for c in [name, *cnames]):
                return DnsAnswer(name, rdtype, SERVFAIL, cnames=(*cnames, target), error="CNAME loop", server="stub")
            cnames.append(target)
            current = target
        return DnsAnswer(name, rdtype, SERVFAIL, cnames=tuple(cnames), error="CNAME chain too long", server="stub")

    def _lookup(self, key: str, rdtype: str) -> tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...], str | None]:
        if key not in self._zone:
            return NXDOMAIN, (), (), None
        records: list[str] = []
        strings: list[tuple[str, ...]] = []
        seen_type = False
        for entry in self._zone[key]:
            if entry == "TIMEOUT":
                if not seen_type:
                    return TIMEOUT, (), (), None
                break
            if not isinstance(entry, dict):
                continue
            for t, v in entry.items():
                if t == "CNAME" and rdtype != "CNAME":
                    target = str(v).rstrip(".")
                    if target:
                        return NOERROR, (), (), target
                    continue
                if t != rdtype or v == "NONE":  # NONE only says the name exists (and stops TXT generation)
                    continue
                seen_type = True
                if v == "TIMEOUT":
                    return TIMEOUT, (), (), None
                if t in ("TXT", "SPF"):
                    parts = (v,) if isinstance(v, str) else tuple(str(s) for s in v)
                    strings.append(parts)
                    records.append("".join(parts))
                elif t == "MX":
                    pref, host = v
                    records.append(f"{int(pref)} {str(host).rstrip('.')}")
                elif t in ("A", "AAAA"):
                    records.append(str(ipaddress.ip_address(str(v))))
                else:
                    records.append(str(v).rstrip("."))
        return NOERROR, tuple(records), tuple(strings), None
