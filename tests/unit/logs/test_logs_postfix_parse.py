"""Postfix syslog parser: every daemon the issue lists, both timestamp styles, short and long ids."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.logs.events import EventKind
from maildoctor.logs.postfix import is_queue_id, parse_line

P = "Nov 27 10:00:00 mx1 "


def test_message_life_short_ids() -> None:
    client = parse_line(P + "postfix/smtpd[11]: 4B2C3D1E2F: client=mail.x.example[198.51.100.3]:4455, "
                        "sasl_method=LOGIN, sasl_username=bob@client.tld", year=2026)
    assert client.kind is EventKind.MESSAGE_INFO and client.message_id == "4B2C3D1E2F"
    assert client.remote_host == "mail.x.example" and client.remote_ip == "198.51.100.3"
    assert client.auth_id == "bob@client.tld"
    assert client.time == dt.datetime(2026, 11, 27, 10, 0, 0) and client.host == "mx1" and client.pid == 11
    mid = parse_line(P + "postfix/cleanup[12]: 4B2C3D1E2F: message-id=<abc@x.example>", year=2026)
    assert mid.header_message_id == "abc@x.example"
    qmgr = parse_line(P + "postfix/qmgr[13]: 4B2C3D1E2F: from=<bob@client.tld>, size=2666, nrcpt=2 (queue active)")
    assert qmgr.kind is EventKind.ARRIVAL and qmgr.sender == "bob@client.tld" and qmgr.size == 2666 and qmgr.nrcpt == 2
    sent = parse_line(P + "postfix/smtp[14]: 4B2C3D1E2F: to=<a@gmail.com>, orig_to=<alias@client.tld>, "
                      "relay=gmail-smtp-in.l.google.com[142.250.1.26]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, "
                      "status=sent (250 2.0.0 OK 1234 - gsmtp)")
    assert sent.kind is EventKind.DELIVERY and sent.recipient == "a@gmail.com"
    assert sent.original_recipient == "alias@client.tld" and sent.remote_ip == "142.250.1.26" and sent.remote_port == 25
    assert sent.delays == "0.1/0/0.5/0.6" and sent.queue_seconds == 1.2 and sent.enhanced_status == "2.0.0"
    assert sent.smtp_code == 250 and sent.diagnostic == "250 2.0.0 OK 1234 - gsmtp"
    deferred = parse_line(P + "postfix/smtp[14]: 4B2C3D1E2F: to=<a@x.example>, relay=none, delay=30, "
                          "delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.x.example[192.0.2.1]:25: "
                          "Connection timed out)")
    assert deferred.kind is EventKind.DEFERRAL and deferred.diagnostic is not None
    assert deferred.diagnostic.endswith("Connection timed out")
    bounced = parse_line(P + "postfix/smtp[14]: 4B2C3D1E2F: to=<a@x.example>, relay=mx.x.example[192.0.2.1]:25, "
                         "delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.x.example[192.0.2.1] said: "
                         "550 5.1.1 <a@x.example>: User unknown (in reply to RCPT TO command))")
    assert bounced.kind is EventKind.FAILURE and bounced.smtp_code == 550 and bounced.enhanced_status == "5.1.1"
    notif = parse_line(P + "postfix/bounce[15]: 4B2C3D1E2F: sender non-delivery notification: 5C6D7E8F90")
    assert notif.extra["bounce_id"] == "5C6D7E8F90" and notif.parent_id == "5C6D7E8F90"
    removed = parse_line(P + "postfix/qmgr[13]: 4B2C3D1E2F: removed")
    assert removed.kind is EventKind.COMPLETED
    expired = parse_line(P + "postfix/qmgr[13]: 4B2C3D1E2F: from=<bob@client.tld>, status=expired, returned to sender")
    assert expired.kind is EventKind.FAILURE and expired.sender == "bob@client.tld"


def test_local_virtual_pipe_error_and_pickup() -> None:
    for prog, relay in (("local", "local"), ("virtual", "virtual"), ("pipe", "dovecot"), ("lmtp", "x[private/lmtp]")):
        ev = parse_line(P + f"postfix/{prog}[1]: 3mPVKl0Mhjz7sXv: to=<u@client.tld>, relay={relay}, delay=0.1, "
                        "delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered)")
        assert ev.kind is EventKind.DELIVERY and ev.message_id == "3mPVKl0Mhjz7sXv", prog
    err = parse_line(P + "postfix/error[1]: 3mPVKl0Mhjz7sXv: to=<u@x.example>, relay=none, delay=9, delays=9/0/0/0, "
                     "dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to x[192.0.2.1]:25: refused)")
    assert err.kind is EventKind.DEFERRAL
    pickup = parse_line(P + "postfix/pickup[2]: 3mPVKl0Mhjz7sXv: uid=1001 from=<shop>")
    assert pickup.kind is EventKind.LOCAL_SUBMISSION and pickup.local_user == "1001" and pickup.sender == "shop"


def test_rfc3339_and_session_lines() -> None:
    ev = parse_line("2026-11-27T10:00:00.123456+01:00 mx1 postfix/smtpd[9]: NOQUEUE: reject: RCPT from "
                    "unknown[192.0.2.7]: 554 5.7.1 <a@b.example>: Relay access denied; from=<s@x.example> "
                    "to=<a@b.example> proto=ESMTP helo=<pc>")
    assert ev.kind is EventKind.REJECT_RCPT and ev.time is not None and ev.time.utcoffset() == dt.timedelta(hours=1)
    assert ev.remote_ip == "192.0.2.7" and ev.smtp_code == 554 and ev.sender == "s@x.example"
    assert ev.recipient == "a@b.example" and ev.message_id is None
    kinds = {
        "postfix/smtpd[1]: connect from unknown[192.0.2.7]": EventKind.CONNECT,
        "postfix/smtpd[1]: disconnect from unknown[192.0.2.7] ehlo=1 quit=1 commands=2": EventKind.DISCONNECT,
        "postfix/smtpd[1]: lost connection after AUTH from unknown[192.0.2.7]": EventKind.LOST,
        "postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6":
            EventKind.AUTH_FAILURE,
        "postfix/postscreen[2]: CONNECT from [192.0.2.7]:4000 to [203.0.113.1]:25": EventKind.CONNECT,
        "postfix/postscreen[2]: PREGREET 11 after 0.1 from [192.0.2.7]:4000: EHLO x": EventKind.REJECT,
        "postfix/master[3]: daemon started -- version 3.7.11": EventKind.DAEMON,
    }
    for text, kind in kinds.items():
        got = parse_line(P + text)
        assert got.kind is kind, text
        if "192.0.2.7" in text:
            assert got.remote_ip == "192.0.2.7", text
    other = parse_line(P + "dovecot[5]: imap-login: Login: user=<x>")
    assert other.kind is EventKind.OTHER


def test_queue_ids() -> None:
    assert is_queue_id("4B2C3D1E2F") and is_queue_id("3mPVKl0Mhjz7sXv")
    assert not is_queue_id("NOQUEUE") and not is_queue_id("warning") and not is_queue_id("statistics")


def test_classic_dates_without_year_are_never_in_the_future() -> None:
    now = dt.datetime.now()
    ev = parse_line(f"{now:%b} {now.day:>2} 00:00:01 mx1 postfix/qmgr[1]: 4B2C3D1E2F: removed")
    assert ev.time is not None and ev.time.year == now.year


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_raises(tail: str) -> None:
    for prefix in ("", P + "postfix/smtp[1]: ", P + "postfix/smtp[1]: 4B2C3D1E2F: ", P + "postfix/smtp[1]: to=<"):
        parse_line(prefix + tail)
