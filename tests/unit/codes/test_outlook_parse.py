"""Pasted Outlook error texts: code, server, port, SSL, protocol, response, socket error."""

from __future__ import annotations

import re

import pytest

from maildoctor import kb
from maildoctor.codes.diagnose import LIKELY, NOT_CHECKED, apply_response_hints, causes_for, diagnose
from maildoctor.codes.outlook import code_from_phrases, normalize_code, parse_outlook_text

OE_0E = ("The connection to the server has failed. Account: 'mail.example.com', Server: 'mail.example.com', "
         "Protocol: SMTP, Port: 25, Secure(SSL): No, Socket Error: 10061, Error Number: 0x800CCC0E")
OE_79 = ("The message could not be sent because one of the recipients was rejected by the server. The rejected "
         "e-mail address was 'foo@example.org'. Subject 'test', Account: 'mail.example.com', Server: "
         "'mail.example.com', Protocol: SMTP, Server Response: '550 relay not permitted', Port: 587, "
         "Secure(SSL): Yes, Server Error: 550, Error Number: 0x800CCC79")
OL_0D = ("Task 'mail.example.com - Sending' reported error (0x800CCC0D) : 'Cannot find server mail.example.com. "
         "Verify the server name is correct'")


def test_classic_dialog() -> None:
    e = parse_outlook_text(OE_0E)
    assert (e.code, e.server, e.protocol, e.port, e.ssl, e.socket_error) == (
        "0x800CCC0E", "mail.example.com", "SMTP", 25, False, "10061")


def test_recipient_and_response() -> None:
    e = parse_outlook_text(OE_79)
    assert (e.code, e.port, e.ssl, e.response, e.response_code, e.recipient) == (
        "0x800CCC79", 587, True, "550 relay not permitted", 550, "foo@example.org")


def test_task_form() -> None:
    e = parse_outlook_text(OL_0D)
    assert (e.code, e.server, e.account, e.protocol) == ("0x800CCC0D", "mail.example.com", "mail.example.com", "SMTP")


@pytest.mark.parametrize(("text", "code"), [
    ("800ccc0e", "0x800CCC0E"), ("error 0X800CCC78.", "0x800CCC78"), ("-2146644978", "0x800CCC0E"),
    ("0x000CCC78", "0x000CCC78"), ("0x8004210B", "0x8004210B"), ("no code here 1234", None), ("0x800CCC0EF", None),
])
def test_normalize(text: str, code: str | None) -> None:
    assert normalize_code(text) == code


def test_wording_without_code() -> None:
    assert code_from_phrases("Outlook: The server could not be found.") == "0x800CCC0D"
    assert code_from_phrases("nothing we know") is None


def test_response_hints_without_server() -> None:
    causes = causes_for("0x800CCC78")
    apply_response_hints("0x800CCC78", causes, "550 Access denied - Invalid HELO name (See RFC2821 4.1.1.1)")
    by = {c.cause: c.verdict for c in causes}
    assert by["helo_rejected"] == LIKELY and by["starttls_required"] == NOT_CHECKED
    assert not any(c.checked for c in causes)


def test_no_server_means_no_probe() -> None:
    causes, notes = diagnose("0x800CCC0E", parse_outlook_text(OE_0E), server=None)
    assert all(not c.checked for c in causes) and notes == []


def test_cause_hints_match_their_samples() -> None:
    for entry in kb.load("outlook_codes"):
        for cause in entry.get("cause", []):
            if "response_hint" in cause:
                assert all(re.search(cause["response_hint"], s, re.I) for s in cause["response_samples"]), cause["id"]


def test_hostile_input_is_bounded() -> None:
    e = parse_outlook_text("Server: '" + "x" * 100_000 + "' 0x800CCC0E")
    assert e.code == ""  # beyond the 20,000 characters read
    assert parse_outlook_text("\x00\xff garbage").code == ""
