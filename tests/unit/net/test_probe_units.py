"""Pure parts of the port probe: port lists, AUTH keywords, certificate name matching."""

from __future__ import annotations

import pytest

from maildoctor.errors import UsageError
from maildoctor.net.dialogs import auth_mechanisms, imap_auth, pop3_auth
from maildoctor.net.probe import Resolution, lookup_host, parse_ports
from maildoctor.net.tlsinfo import hostname_matches


def test_parse_ports() -> None:
    assert parse_ports("25, 587,1000-1002") == (25, 587, 1000, 1001, 1002)
    assert parse_ports("25,25") == (25,)
    for bad in ("", "0", "70000", "a", "10-5", "1-100"):
        with pytest.raises(UsageError):
            parse_ports(bad)


def test_auth_keywords() -> None:
    assert auth_mechanisms(["SIZE 1000", "AUTH PLAIN LOGIN", "AUTH=LOGIN CRAM-MD5"]) == ["PLAIN", "LOGIN", "CRAM-MD5"]
    assert auth_mechanisms(["STARTTLS", "HELP"]) == []
    assert pop3_auth(["TOP", "USER", "SASL PLAIN"]) == ["USER", "PLAIN"]
    assert imap_auth(["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]) == []
    assert imap_auth(["IMAP4rev1", "AUTH=PLAIN"]) == ["PLAIN", "LOGIN-COMMAND"]


def test_hostname_match() -> None:
    assert hostname_matches(("mail.example.com",), "MAIL.example.com.")
    assert hostname_matches(("*.example.com",), "mail.example.com")
    assert not hostname_matches(("*.example.com",), "a.b.example.com")
    assert not hostname_matches(("*.example.com",), "example.com")
    assert not hostname_matches(("mail.example.com",), "192.0.2.1")
    assert hostname_matches(("192.0.2.1",), "192.0.2.1")


def test_ip_literal_needs_no_dns() -> None:
    assert lookup_host("192.0.2.7", dns_server="198.51.100.1:1") == Resolution("192.0.2.7", ("192.0.2.7",))
