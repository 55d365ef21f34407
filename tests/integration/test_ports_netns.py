"""`maildoctor ports` against fake listeners inside a private network namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.net.netns import NetNs, make_cert, need_netns

pytestmark = pytest.mark.integration

ADDR = "192.0.2.25"


@pytest.fixture(scope="module")
def ns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetNs]:
    need_netns()
    tmp = tmp_path_factory.mktemp("ports")
    n = NetNs("ports")
    try:
        n.add_address(ADDR)
        cert = make_cert(tmp, "mail.example.test")
        n.start_servers(tmp, [
            {"addr": ADDR, "port": 25, "kind": "smtp", "tls": "starttls", "auth": "after_tls"},
            {"addr": ADDR, "port": 587, "kind": "smtp", "tls": "starttls", "auth": "always"},
            {"addr": ADDR, "port": 465, "kind": "smtp", "tls": "implicit"},
            {"addr": ADDR, "port": 2525, "kind": "smtp", "tls": "none", "banner": "421 too busy, try later"},
            {"addr": ADDR, "port": 110, "kind": "pop3", "tls": "starttls", "auth": "after_tls"},
            {"addr": ADDR, "port": 993, "kind": "imap", "tls": "implicit"},
            {"addr": ADDR, "port": 143, "kind": "imap", "tls": "starttls"},
            {"addr": ADDR, "port": 26, "kind": "reset"},
            {"addr": ADDR, "port": 995, "kind": "smtp"},  # filtered below: a listener behind a DROP rule
        ], cert)
        n.iptables("-A", "INPUT", "-p", "tcp", "--dport", "995", "-j", "DROP")
        yield n
    finally:
        n.close()


@pytest.fixture(scope="module")
def doc(ns: NetNs) -> dict[str, Any]:
    res = ns.maildoctor("ports", ADDR, "--ports", "25,26,110,143,465,587,993,995,2525,4000", "--timeout", "3",
                        "--format", "json")
    assert res.code == 1, res.err  # problems found: self-signed certificates, a 421 greeting, a filtered port
    assert res.err == ""
    return res.json()  # type: ignore[no-any-return]


def by_port(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {p["port"]: p for p in doc["ports"]}


def test_states(doc: dict[str, Any]) -> None:
    ports = by_port(doc)
    assert doc["host"] == ADDR and doc["addresses"] == [ADDR]
    assert {p: ports[p]["state"] for p in ports} == {
        25: "open", 26: "reset", 110: "open", 143: "open", 465: "open", 587: "open", 993: "open",
        995: "filtered", 2525: "open", 4000: "refused",
    }
    assert ports[995]["seconds"] >= 2.9  # the DROP rule made it wait for the timeout
    assert ports[4000]["seconds"] < 2.9


def test_starttls_self_signed_and_auth_after_tls(doc: dict[str, Any]) -> None:
    p25 = by_port(doc)[25]
    assert p25["banner"].startswith("fake.test ESMTP")
    assert "STARTTLS" in p25["capabilities"]
    tls = p25["tls"]
    assert tls["mode"] == "starttls" and tls["ok"] and tls["version"].startswith("TLSv1.")
    assert tls["cert"]["self_signed"] is True
    assert [c["subject"] for c in tls["chain"]] == ["commonName=mail.example.test"]  # as sent: the leaf alone
    assert tls["chain_verified"] is False and "self-signed" in tls["verify_error"]
    assert tls["hostname_match"] is False  # probed by address, the certificate names mail.example.test
    assert p25["auth"] == {"before_tls": [], "after_tls": ["PLAIN", "LOGIN"]}
    ids = {(f["id"], f["subject"]) for f in doc["findings"]}
    assert ("ports.tls_self_signed", f"{ADDR}:25") in ids
    assert ("ports.auth_after_tls_only", f"{ADDR}:25") in ids


def test_auth_in_clear_and_implicit_tls(doc: dict[str, Any]) -> None:
    ports = by_port(doc)
    assert ports[587]["auth"]["before_tls"] == ["PLAIN", "LOGIN"]
    assert ("ports.auth_in_clear", f"{ADDR}:587") in {(f["id"], f["subject"]) for f in doc["findings"]}
    assert ports[465]["tls"]["mode"] == "implicit" and ports[465]["tls"]["ok"]
    assert ports[465]["auth"]["after_tls"] == ["PLAIN", "LOGIN"]


def test_pop3_imap(doc: dict[str, Any]) -> None:
    ports = by_port(doc)
    assert ports[110]["protocol"] == "pop3" and ports[110]["banner"].startswith("+OK")
    assert "STLS" in ports[110]["capabilities"] and ports[110]["auth"]["after_tls"] == ["USER", "PLAIN", "LOGIN"]
    assert ports[143]["protocol"] == "imap" and "LOGINDISABLED" in ports[143]["capabilities"]
    assert "AUTH=PLAIN" in ports[143]["capabilities_tls"]
    assert ports[993]["tls"]["mode"] == "implicit" and "PLAIN" in ports[993]["auth"]["after_tls"]


def test_greeting_421(doc: dict[str, Any]) -> None:
    p = by_port(doc)[2525]
    assert p["banner_code"] == 421
    assert any(f["id"] == "ports.greeting_refused" and f["subject"].endswith(":2525") for f in doc["findings"])


def test_text_output_and_bad_input(ns: NetNs, tmp_path: Path) -> None:
    res = ns.maildoctor("ports", ADDR, "--ports", "25,4000", "--timeout", "3")
    assert "25/smtp" in res.out and "refused" in res.out
    bad = ns.maildoctor("ports", ADDR, "--ports", "25,99999")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "out of range" in bad.err
    bad = ns.maildoctor("ports", "no such host")
    assert bad.code == 2 and "Traceback" not in bad.err


def test_only_the_named_host_is_probed(tmp_path: Path) -> None:
    """A mail domain's MX is listed, never contacted; a silent server cannot stall the run."""
    need_netns()
    n = NetNs("ports")
    try:
        n.add_address("192.0.2.30")
        n.add_address("192.0.2.31")
        dns = n.start_dns(tmp_path, "example.test", {"example.test": {"A": ["192.0.2.30"],
                                                                       "MX": ["10 mx.example.test."]},
                                                      "mx.example.test": {"A": ["192.0.2.31"]}})
        log = tmp_path / "connections.log"
        n.start_servers(tmp_path, [
            {"addr": "192.0.2.30", "port": 25, "kind": "silent", "log": str(log)},
            {"addr": "192.0.2.31", "port": 25, "kind": "smtp", "log": str(log)},
        ])
        res = n.maildoctor("ports", "example.test", "--dns-server", dns, "--ports", "25", "--timeout", "1.5",
                           "--format", "json")
        doc = res.json()
        assert doc["addresses"] == ["192.0.2.30"] and doc["mx"] == [{"preference": 10, "host": "mx.example.test"}]
        assert doc["probed_address"] == "192.0.2.30"
        p25 = doc["ports"][0]
        assert p25["state"] == "open" and "timed out" in p25["error"] and p25["banner"] == ""
        assert log.read_text().splitlines() == ["192.0.2.30:25"]  # the MX host got no connection
        assert any(f["id"] == "ports.mx" for f in doc["findings"])
    finally:
        n.close()


def test_ipv6_loopback(tmp_path: Path) -> None:
    need_netns()
    n = NetNs("ports")
    try:
        if n.sh("ip", "-6", "addr", "show", "dev", "lo", check=False).stdout.count("::1") == 0:
            pytest.skip("no IPv6 on loopback in this namespace")
        n.start_servers(tmp_path, [{"addr": "::1", "port": 587, "kind": "smtp"}])
        doc = n.maildoctor("ports", "::1", "--ports", "587,588", "--timeout", "3", "--format", "json").json()
        assert [(p["port"], p["state"]) for p in doc["ports"]] == [(587, "open"), (588, "refused")]
        assert doc["ports"][0]["banner"].startswith("fake.test") and doc["ports"][0]["address"] == "::1"
    finally:
        n.close()


def test_every_problem_has_evidence_and_fix(doc: dict[str, Any]) -> None:
    problems = [f for f in doc["findings"] if f["severity"] in ("warning", "critical")]
    assert {f["id"] for f in problems} >= {"ports.filtered", "ports.reset", "ports.tls_self_signed",
                                           "ports.greeting_refused", "ports.auth_in_clear"}
    assert all(f["evidence"] and f["fix"] for f in problems), [f["id"] for f in problems if not f["fix"]]
