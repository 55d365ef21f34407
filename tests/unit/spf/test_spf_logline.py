"""Finding the client IP, sender and HELO of an SPF rejection in log lines and bounces."""

from __future__ import annotations

import pytest

from maildoctor import kb
from maildoctor.spf.logline import find_spf_rejection, is_spf_rejection, parse_spf_rejection
from tests.conftest import run_cli

EXPECTED = {
    "reject.exim": ("198.51.100.10", "alice@example.com", "mail.example.net"),
    "reject.policyd-spf": ("198.51.100.10", "alice@example.com", "mail.example.net"),
    "reject.gmail": ("198.51.100.10", "example.com", ""),
    "reject.headers": ("198.51.100.10", "alice@example.com", "mail.example.net"),
}


def test_every_kb_sample_is_recognised() -> None:
    for entry in kb.load("spf"):
        if entry.get("kind") != "rejection":
            continue
        for sample in entry["samples"]:
            assert is_spf_rejection(sample) == entry.id or is_spf_rejection(sample), sample


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_fields_from_the_first_sample(rule: str) -> None:
    sample = kb.load("spf").by_id(rule)["samples"][0]
    found = parse_spf_rejection(sample)
    assert found is not None
    assert (found.ip, found.sender, found.helo) == EXPECTED[rule]


def test_lines_without_spf_are_ignored() -> None:
    assert parse_spf_rejection("2026-11-28 09:00:00 1tA2bC-0004Xy-Ab <= a@b.example H=x [192.0.2.1] P=esmtp") is None
    assert parse_spf_rejection("550 5.1.1 <x@y.example>: user unknown [192.0.2.1]") is None


def test_stream_finds_a_rejection_deep_in_a_log_with_its_line_number() -> None:
    filler = (f"2026-11-28 09:00:{i % 60:02d} 1tA2bC-0004Xy-{i:02d} <= a@b.example H=x [192.0.2.1] P=esmtp"
              for i in range(50_000))
    rejection = ("2026-11-28 10:00:00 H=(helo.example.net) [203.0.113.50]:1234 F=<bob@shop.example> rejected RCPT "
                 "<x@y.example>: SPF check failed")
    found = find_spf_rejection([*filler, rejection, "tail line"])
    assert found is not None
    assert (found.ip, found.sender, found.helo, found.line_number) == ("203.0.113.50", "bob@shop.example",
                                                                       "helo.example.net", 50_001)


def test_bounce_with_the_sender_far_from_the_diagnostic() -> None:
    bounce = ["Return-Path: <>", "Subject: Undeliverable", "", "Delivery has failed.", "",
              "Remote Server returned '550 5.7.23 The message was rejected because of Sender Policy Framework "
              "violation'", "", "Original message headers:", *[f"X-Filler-{i}: x" for i in range(30)],
              "Received: from mail.shop.example ([203.0.113.50]) by mx.example.org",
              "Received-SPF: Fail (protection.outlook.com: domain of shop.example does not designate 203.0.113.50 "
              "as permitted sender) receiver=protection.outlook.com; client-ip=203.0.113.50; "
              "helo=mail.shop.example;", "Return-Path: <bob@shop.example>",
              "X-Envelope: envelope-from=<bob@shop.example>"]
    found = find_spf_rejection(bounce)
    assert found is not None
    assert found.line_number == 6
    assert (found.ip, found.sender) == ("203.0.113.50", "bob@shop.example")


def test_cli_reads_a_rejection_from_stdin() -> None:
    line = ("Nov 28 09:12:01 mx postfix/smtpd[123]: NOQUEUE: reject: RCPT from unknown[198.51.100.10]: 550 5.7.23 "
            "<bob@example.org>: Recipient address rejected: Message rejected due to: SPF fail - not authorized. "
            "Please see http://www.openspf.net/Why?s=mfrom;id=alice@invalid-domain;ip=198.51.100.10;r=<UNKNOWN>; "
            "from=<alice@invalid-domain> to=<bob@example.org> proto=ESMTP helo=<mail.example.net>\n")
    res = run_cli("spf", "check", "--from-file", "-", "--format", "json", stdin=line)
    doc = res.json()
    assert (doc["ip"], doc["sender"], doc["helo"]) == ("198.51.100.10", "alice@invalid-domain", "mail.example.net")
    assert doc["result"] == "none"  # not a fully qualified domain: RFC 7208 §4.3, and no DNS query is sent
    assert not any(s["action"] == "query" for s in doc["trace"])
