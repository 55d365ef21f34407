"""A tiny authoritative DNS server for tests: python fakedns.py ADDR PORT ZONE.json (prints "ready").

ZONE.json: {"zone": "example.test", "records": {"mail.example.test": {"A": ["192.0.2.25"]}, ...}}.
Names under the zone without records are NXDOMAIN; the zone apex answers SOA; names outside the
zone are NXDOMAIN (as if the parent had no such delegation).
"""

from __future__ import annotations

import json
import socket
import sys

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


def answer(query: dns.message.Message, zone: str, records: dict[str, dict[str, list[str]]]) -> dns.message.Message:
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.AA
    q = query.question[0]
    name = q.name.to_text().rstrip(".").lower()
    rtype = dns.rdatatype.to_text(q.rdtype)
    soa = dns.rrset.from_text(zone + ".", 300, "IN", "SOA", f"ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300")
    if name != zone and not name.endswith("." + zone):
        resp.set_rcode(dns.rcode.NXDOMAIN)  # as the parent zone would answer: no such domain
        return resp
    if name == zone and rtype == "SOA":
        resp.answer.append(soa)
        return resp
    data = records.get(name)
    if data is None and name != zone:
        resp.set_rcode(dns.rcode.NXDOMAIN)
        resp.authority.append(soa)
        return resp
    values = (data or {}).get(rtype, [])
    if values:
        resp.answer.append(dns.rrset.from_text(name + ".", 300, "IN", rtype, *values))
    else:
        resp.authority.append(soa)
    return resp


def main() -> None:
    addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path) as fh:
        doc = json.load(fh)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    print("ready", flush=True)
    while True:
        wire, peer = sock.recvfrom(4096)
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # garbage sent to a test server: ignore it
            continue
        sock.sendto(answer(query, doc["zone"], doc["records"]).to_wire(), peer)


if __name__ == "__main__":
    main()
