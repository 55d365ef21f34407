"""The resolver interface: dnspython against a loopback test server, the zone stub, server parsing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from maildoctor.errors import UsageError
from maildoctor.net.dns import (
    BADNAME,
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    TIMEOUT,
    ZoneResolver,
    lookup_a_aaaa,
    lookup_mx,
    make_resolver,
    parse_server,
    reverse_name,
    reverse_ptr,
)

RECORDS = {
    ("txt.test.", "TXT"): ['"v=spf1 ip4:192.0.2.0/24 " "-all"', '"unrelated text"'],
    ("txt.test.", "A"): ["192.0.2.10"],
    ("mx.test.", "MX"): ["10 mail.test.", "5 backup.test."],
    ("10.2.0.192.in-addr.arpa.", "PTR"): ["txt.test."],
}


def _answer(wire: bytes) -> bytes | None:
    query = dns.message.from_wire(wire)
    q = query.question[0]
    name, rdtype = q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype)
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.RA
    if name == "slow.test.":
        return None  # never answer: the client must time out
    if name == "fail.test.":
        resp.set_rcode(dns.rcode.SERVFAIL)
    elif name == "alias.test.":
        resp.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", "txt.test."))
        for text in RECORDS.get(("txt.test.", rdtype), []):
            resp.answer.append(dns.rrset.from_text("txt.test.", 60, "IN", rdtype, text))
    elif any(n == name for n, _ in RECORDS):
        for text in RECORDS.get((name, rdtype), []):
            resp.answer.append(dns.rrset.from_text(name, 60, "IN", rdtype, text))
    else:
        resp.set_rcode(dns.rcode.NXDOMAIN)
    return resp.to_wire()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            out = _answer(wire)
            if out is not None:
                sock.sendto(out, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(2)
    sock.close()


def test_txt_strings_are_joined_and_kept(server: str) -> None:
    ans = make_resolver(server, timeout=2).query("txt.test", "TXT")
    assert ans.status == NOERROR
    assert "v=spf1 ip4:192.0.2.0/24 -all" in ans.records
    assert ("v=spf1 ip4:192.0.2.0/24 ", "-all") in ans.strings
    assert ans.server == server


def test_cname_chain_is_reported(server: str) -> None:
    ans = make_resolver(server, timeout=2).query("alias.test", "A")
    assert ans.records == ("192.0.2.10",)
    assert ans.cnames == ("txt.test",)


def test_statuses_are_values_not_exceptions(server: str) -> None:
    res = make_resolver(server, timeout=1)
    assert res.query("nope.test", "TXT").status == NXDOMAIN
    assert res.query("nope.test", "TXT").void
    fail = res.query("fail.test", "TXT")
    assert fail.status == SERVFAIL and fail.temporary
    slow = res.query("slow.test", "TXT")
    assert slow.status == TIMEOUT and slow.temporary
    empty = res.query("txt.test", "MX")
    assert empty.status == NOERROR and empty.void
    assert res.query("a" * 64 + ".test", "A").status == BADNAME


def test_helpers(server: str) -> None:
    res = make_resolver(server, timeout=2)
    pairs, _ = lookup_mx(res, "mx.test")
    assert pairs == [(5, "backup.test"), (10, "mail.test")]
    addrs, _ = lookup_a_aaaa(res, "txt.test")
    assert addrs == ["192.0.2.10"]
    names, _ = reverse_ptr(res, "192.0.2.10")
    assert names == ["txt.test"]


@pytest.mark.parametrize(("spec", "parsed"), [
    ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), ("::1", ("::1", 53)),
    ("[::1]:5300", ("::1", 5300)),
])
def test_parse_server(spec: str, parsed: tuple[str, int]) -> None:
    assert parse_server(spec) == parsed


@pytest.mark.parametrize("spec", ["", "127.0.0.1:0", "127.0.0.1:abc", "[::1", "[::1]x", "127.0.0.1:70000"])
def test_bad_server_is_a_usage_error(spec: str) -> None:
    with pytest.raises(UsageError):
        parse_server(spec)


def test_reverse_name_maps_ipv4_mapped_to_in_addr() -> None:
    assert reverse_name("::ffff:192.0.2.1") == "1.2.0.192.in-addr.arpa"
    assert reverse_name("2001:db8::1").endswith(".8.b.d.0.1.0.0.2.ip6.arpa")


def test_zone_stub_semantics() -> None:
    z = ZoneResolver({
        "spf.test": [{"SPF": "v=spf1 -all"}],  # served as TXT too (no TXT entry)
        "both.test": [{"SPF": "v=spf1 +all"}, {"TXT": "v=spf1 -all"}],
        "none.test": [{"SPF": "v=spf1 -all"}, {"TXT": "NONE"}, "TIMEOUT"],
        "late.test": [{"A": "192.0.2.1"}, "TIMEOUT"],
        "loop.test": [{"CNAME": "loop2.test"}], "loop2.test": [{"CNAME": "loop.test."}],
        "split.test": [{"TXT": ["v=spf1 ", "-all"]}],
    })
    assert z.query("spf.test", "TXT").records == ("v=spf1 -all",)
    assert z.query("both.test", "TXT").records == ("v=spf1 -all",)
    assert z.query("none.test", "TXT").status == TIMEOUT
    assert z.query("late.test", "A").records == ("192.0.2.1",)
    assert z.query("late.test", "MX").status == TIMEOUT
    assert z.query("loop.test", "A").status == SERVFAIL
    assert z.query("split.test", "TXT").strings == (("v=spf1 ", "-all"),)
    assert z.query("absent.test", "A").status == NXDOMAIN
    assert ("absent.test", "A") in z.queries
