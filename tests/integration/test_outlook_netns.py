"""Each of the five common Outlook codes, pasted as Outlook shows it, against a lab server set up
to cause it: `maildoctor outlook TEXT --server HOST` must name the cause."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.net.netns import NetNs, Result, make_cert, need_netns

pytestmark = pytest.mark.integration

ZONE = "example.test"
HOSTS = {  # one server per scenario, each on its own address
    "auth": "192.0.2.78", "helo": "192.0.2.79", "fw": "192.0.2.14", "port": "192.0.2.15", "down": "192.0.2.16",
    "relay": "192.0.2.69", "isp": "192.0.2.67", "busy": "192.0.2.68", "tls": "192.0.2.20",
}


@pytest.fixture(scope="module")
def olab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NetNs, str]]:
    need_netns()
    tmp = tmp_path_factory.mktemp("outlook")
    ns = NetNs("outlook")
    try:
        for addr in HOSTS.values():
            ns.add_address(addr)
        records = {f"{name}.{ZONE}": {"A": [addr]} for name, addr in HOSTS.items()}
        records[f"webmail.{ZONE}"] = {"A": [HOSTS["tls"]]}  # a second name for the TLS server, not on its cert
        dns = ns.start_dns(tmp, ZONE, records)
        smtp = {"kind": "smtp", "tls": "none"}
        ns.start_servers(tmp, [
            # 0x800CCC78: AUTH offered, unauthenticated senders refused (cPanel wording)
            {**smtp, "addr": HOSTS["auth"], "port": 25,
             "mail_reply": "550 Please turn on SMTP Authentication in your mail client"},
            # 0x800CCC78 variant: bare HELO names refused
            {**smtp, "addr": HOSTS["helo"], "port": 25,
             "helo_reject": "550 Access denied - Invalid HELO name (See RFC2821 4.1.1.1)"},
            # 0x800CCC0E: port 25 dropped by a firewall (rule below), 587 open
            {**smtp, "addr": HOSTS["fw"], "port": 25}, {**smtp, "addr": HOSTS["fw"], "port": 587},
            # 0x800CCC0E variant: nothing on 465, 587 open
            {**smtp, "addr": HOSTS["port"], "port": 587},
            # 0x800CCC69: relaying refused without AUTH
            {**smtp, "addr": HOSTS["relay"], "port": 25, "rcpt_reply": "550 relay not permitted"},
            # 0x800CCC67: the server greets normally on 25 and 587 (the 421 came from the client's ISP)
            {**smtp, "addr": HOSTS["isp"], "port": 25}, {**smtp, "addr": HOSTS["isp"], "port": 587},
            # 0x800CCC67 variant: the server itself says 421
            {**smtp, "addr": HOSTS["busy"], "port": 25, "banner": "421 Too many concurrent SMTP connections"},
        ])
        # TLS codes: STARTTLS on 587 with a certificate for tls.example.test only
        ns.start_servers(tmp, [{"kind": "smtp", "tls": "starttls", "addr": HOSTS["tls"], "port": 587}],
                         make_cert(tmp, f"tls.{ZONE}"))
        ns.iptables("-A", "INPUT", "-d", HOSTS["fw"], "-p", "tcp", "--dport", "25", "-j", "DROP")
        yield ns, dns
    finally:
        ns.close()


def outlook(olab: tuple[NetNs, str], text: str, host: str, *extra: str) -> dict[str, Any]:
    ns, dns = olab
    res: Result = ns.maildoctor("outlook", text, "--server", f"{host}.{ZONE}", "--dns-server", dns,
                                "--timeout", "2", "--format", "json", *extra)
    assert res.code in (0, 1), res.err
    doc: dict[str, Any] = res.json()
    return doc


def verdicts(doc: dict[str, Any]) -> dict[str, str]:
    return {c["cause"]: c["verdict"] for c in doc["causes"]}


def test_0x800ccc78_smtp_auth_not_configured(olab: tuple[NetNs, str]) -> None:
    text = ("Task 'info@example.test - Sending' reported error (0x800CCC78) : 'Unable to send the message. Please "
            "verify the e-mail address in your account properties. The server responded: 550 Please turn on SMTP "
            "Authentication in your mail client.'")
    doc = outlook(olab, text, "auth")
    assert doc["code"] == "0x800CCC78" and doc["name"] == "IXP_E_SMTP_REJECTED_SENDER"
    assert doc["diagnosis"] == "auth_required_for_sender"
    v = verdicts(doc)
    assert v["auth_required_for_sender"] == "confirmed"
    assert v["helo_rejected"] == "ruled_out" and v["starttls_required"] == "ruled_out"
    assert all(c["checked"] for c in doc["causes"] if c["cause"] != "sender_mismatch")


def test_0x800ccc78_invalid_helo(olab: tuple[NetNs, str]) -> None:
    text = ("Task 'info@example.test - Sending' reported error (0x800CCC78) : 'Unable to send the message. The server "
            "responded: 550 Access denied - Invalid HELO name (See RFC2821 4.1.1.1)'")
    doc = outlook(olab, text, "helo")
    assert doc["diagnosis"] == "helo_rejected"
    assert verdicts(doc)["auth_required_for_sender"] == "ruled_out"


def test_0x800ccc0d_host_not_found(olab: tuple[NetNs, str]) -> None:
    text = ("Task 'mial.example.test - Sending' reported error (0x800CCC0D) : 'Cannot find server mial.example.test. "
            "Verify the server name is correct.'")
    doc = outlook(olab, text, "mial")  # a typo under an existing domain
    assert doc["extracted"]["server"] == "mial.example.test"
    assert doc["diagnosis"] == "typo"
    assert verdicts(doc) == {"typo": "confirmed", "domain_missing": "ruled_out", "client_dns": "ruled_out"}
    ns, dns = olab
    res = ns.maildoctor("outlook", text, "--server", "mail.nosuchdomain.test", "--dns-server", dns, "--timeout", "2",
                        "--format", "json")
    doc = res.json()
    assert doc["diagnosis"] == "domain_missing"
    assert verdicts(doc) == {"domain_missing": "confirmed", "typo": "possible", "client_dns": "ruled_out"}
    doc = outlook(olab, text, "auth")  # a name that resolves: the client's side is at fault
    assert doc["diagnosis"] == "client_dns"


def test_0x800ccc0e_port_filtered(olab: tuple[NetNs, str]) -> None:
    text = ("The connection to the server has failed. Account: 'fw.example.test', Server: 'fw.example.test', "
            "Protocol: SMTP, Port: 25, Secure(SSL): No, Socket Error: 10060, Error Number: 0x800CCC0E")
    doc = outlook(olab, text, "fw")
    assert doc["extracted"]["port"] == 25 and doc["extracted"]["socket_error"] == "10060"
    assert doc["diagnosis"] == "firewall"
    v = verdicts(doc)
    assert v["firewall"] == "confirmed" and v["wrong_port"] == "likely" and v["client_side"] == "ruled_out"


def test_0x800ccc0e_wrong_port(olab: tuple[NetNs, str]) -> None:
    text = ("The connection to the server has failed. Account: 'port.example.test', Server: 'port.example.test', "
            "Protocol: SMTP, Port: 465, Secure(SSL): Yes, Socket Error: 10061, Error Number: 0x800CCC0E")
    doc = outlook(olab, text, "port")
    assert doc["diagnosis"] == "wrong_port"
    assert verdicts(doc)["server_down"] == "ruled_out"


def test_0x800ccc69_relay_needs_auth(olab: tuple[NetNs, str]) -> None:
    text = ("The message could not be sent because one of the recipients was rejected by the server. The server "
            "responded: 550 relay not permitted. Subject 'test', Account: 'relay.example.test', Server: "
            "'relay.example.test', Protocol: SMTP, Port: 25, Secure(SSL): No, Server Error: 550, "
            "Error Number: 0x800CCC69")
    doc = outlook(olab, text, "relay", "--user", "info@example.test")
    assert doc["diagnosis"] == "relay_needs_auth"
    v = verdicts(doc)
    assert v["relay_needs_auth"] == "confirmed" and v["sender_blocked"] == "ruled_out"
    assert any("RCPT TO:<maildoctor-relay-test@example.com> -> 550" in e for c in doc["causes"] for e in c["evidence"])


def test_0x800ccc67_port_25_blocked_between(olab: tuple[NetNs, str]) -> None:
    text = ("Task 'isp.example.test - Sending' reported error (0x800CCC67) : 'Your outgoing (SMTP) e-mail server has "
            "reported an internal error. The server responded: 421 Service not available, closing transmission "
            "channel' Server: 'isp.example.test', Port: 25")
    doc = outlook(olab, text, "isp")
    assert doc["diagnosis"] == "isp_blocks_25"
    v = verdicts(doc)
    assert v["server_refuses"] == "ruled_out" and v["outlook_misconfigured"] == "ruled_out"


def test_0x800ccc67_server_itself(olab: tuple[NetNs, str]) -> None:
    doc = outlook(olab, "0x800CCC67", "busy")
    assert doc["diagnosis"] == "server_refuses"
    assert "421 Too many" in next(c["detail"] for c in doc["causes"] if c["cause"] == "server_refuses")


def test_log_shows_client_attempts(olab: tuple[NetNs, str], tmp_path: Path) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text(
        "2026-11-28 09:00:01 dovecot_login authenticator failed for (DESKTOP-1) [203.0.113.9]:50000: "
        "535 Incorrect authentication data (set_id=info@example.test)\n"
        "2026-11-28 09:00:05 H=(DESKTOP-1) [203.0.113.9]:50001 F=<info@example.test> rejected RCPT "
        "<someone@example.org>: relay not permitted\n"
        "2026-11-28 09:00:09 1tA2bC-00000001AbC-0Xy1 <= other@example.test H=(x) [198.51.100.7] P=esmtpa "
        "A=dovecot_login:other@example.test S=100\n")
    ns, _dns = olab
    res = ns.maildoctor("outlook", "0x800CCC69", "--log", str(log), "--user", "info@example.test", "--format", "json")
    doc = res.json()
    assert doc["log"]["counts"].get("login failed") == 1
    assert sum(doc["log"]["counts"].values()) == 2  # the other user's delivery is not counted
    fails = next(f for f in doc["findings"] if f["id"] == "outlook.log_auth_failures")
    assert fails["evidence"][0]["line"] == 1 and fails["fix"]


def test_outlook_mapi_timeout_uses_the_connect_checks(olab: tuple[NetNs, str]) -> None:
    text = ("Task 'fw.example.test - Sending' reported error (0x8004210B) : 'The operation timed out waiting for a "
            "response from the sending (SMTP) server. If you continue to receive this message, contact your server "
            "administrator or Internet service provider (ISP).'")
    doc = outlook(olab, text, "fw")
    assert doc["code"] == "0x8004210B" and doc["extracted"]["protocol"] == "SMTP"
    assert doc["diagnosis"] == "firewall"  # no port in the text: 25 is dropped, 587 works
    assert any("use port 587" in c["detail"] for c in doc["causes"])


def test_0x800ccc01_certificate_name(olab: tuple[NetNs, str]) -> None:
    text = ("The server you are connected to is using a security certificate that could not be verified. The target "
            "principal name is incorrect. Server: 'webmail.example.test', Protocol: SMTP, Port: 587, Error Number: "
            "0x800CCC01")
    doc = outlook(olab, text, "webmail")
    assert doc["diagnosis"] == "name_not_on_cert"
    assert "tls.example.test" in next(c["detail"] for c in doc["causes"] if c["cause"] == "name_not_on_cert")
    assert outlook(olab, text, "tls")["diagnosis"] == "intercepted"  # the right name: something else replaced it


def test_0x800ccc02_certificate_date(olab: tuple[NetNs, str]) -> None:
    doc = outlook(olab, "0x800CCC02", "tls", "--port", "587")
    assert doc["diagnosis"] == "client_clock"  # the certificate is valid for 30 days: the PC's clock is wrong
    assert {c["cause"]: c["verdict"] for c in doc["causes"]}["cert_expired"] == "ruled_out"


def test_0x800ccc1a_ssl_on_starttls_port(olab: tuple[NetNs, str]) -> None:
    text = ("Your server does not support the connection encryption type you have specified. Server: "
            "'tls.example.test', Protocol: SMTP, Port: 587, Secure(SSL): Yes, Error Number: 0x800CCC1A")
    doc = outlook(olab, text, "tls")
    assert doc["diagnosis"] == "ssl_on_plain_port"
    assert {c["cause"]: c["verdict"] for c in doc["causes"]}["tls_fails"] == "ruled_out"
