"""Exim line parser: every line kind of the main log, both id formats, any log_selector."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.logs.events import EventKind
from maildoctor.logs.exim import is_message_id, parse_duration, parse_line

OLD = "1tA2bC-0004Xy-Ab"
NEW = "1tA2bC-00000001AbC-0Xy1"


def test_arrival_smtp_auth_with_every_field() -> None:
    ev = parse_line(
        f"2026-11-27 10:00:01.123 +0100 [4711] {NEW} <= info@client.tld H=(laptop) [198.51.100.7]:51234 "
        "I=[203.0.113.10]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "
        'A=dovecot_login:info@client.tld S=4315 K id=abc@client.tld T="Re: \\"quote\\" test" '
        "from <info@client.tld> for a@x.example b@y.example"
    )
    assert ev.kind is EventKind.ARRIVAL
    assert ev.time == dt.datetime(2026, 11, 27, 10, 0, 1, 123000, dt.timezone(dt.timedelta(hours=1)))
    assert ev.pid == 4711 and ev.message_id == NEW
    assert ev.sender == "info@client.tld" and ev.helo == "laptop" and ev.remote_host is None
    assert ev.remote_ip == "198.51.100.7" and ev.remote_port == 51234
    assert ev.protocol == "esmtpsa" and ev.auth_id == "info@client.tld"
    assert ev.extra["auth_method"] == "dovecot_login" and ev.extra["interface"] == "203.0.113.10:587"
    assert ev.extra["interface_ip"] == "203.0.113.10"
    assert ev.tls == "TLS1.3:TLS_AES_256_GCM_SHA384:256" and ev.extra["CV"] == "no"
    assert ev.size == 4315 and ev.header_message_id == "abc@client.tld"
    assert ev.subject == 'Re: "quote" test'
    assert ev.extra["recipients"] == "a@x.example b@y.example" and ev.recipient == "a@x.example"


def test_local_script_submission_and_bounce_arrival() -> None:
    cwd = parse_line("2026-11-27 10:00:00 cwd=/home/shop/public_html/wp-content/uploads 3 args: "
                     "/usr/sbin/sendmail -t -i")
    assert cwd.kind is EventKind.LOCAL_SUBMISSION
    assert cwd.script_path == "/home/shop/public_html/wp-content/uploads"
    assert cwd.extra["args"] == "/usr/sbin/sendmail -t -i"
    local = parse_line(f"2026-11-27 10:00:00 {OLD} <= shop@server.example U=shop P=local S=900 T=\"x\" for z@q.example")
    assert local.local_user == "shop" and local.protocol == "local" and local.sender == "shop@server.example"
    bounce = parse_line(f"2026-11-27 10:00:02 {NEW} <= <> R={OLD} U=mailnull P=local S=1800")
    assert bounce.kind is EventKind.ARRIVAL and bounce.sender == "" and bounce.parent_id == OLD


def test_delivery_lines() -> None:
    ev = parse_line(
        f"2026-11-27 10:00:03 {OLD} => bob <bob@client.tld> R=virtual_user T=dovecot_virtual_delivery "
        'C="250 2.0.0 <bob@client.tld> ok" QT=1m2s DT=0.25s'
    )
    assert ev.kind is EventKind.DELIVERY and ev.recipient == "bob" and ev.original_recipient == "bob@client.tld"
    assert ev.router == "virtual_user" and ev.transport == "dovecot_virtual_delivery"
    assert ev.confirmation == "250 2.0.0 <bob@client.tld> ok" and ev.smtp_code == 250
    assert ev.enhanced_status == "2.0.0" and ev.queue_seconds == 62.0 and ev.delivery_seconds == 0.25
    remote = parse_line(f"2026-11-27 10:00:03 {OLD} => a@gmail.com R=dkim_lookuphost T=dkim_remote_smtp "
                        "H=gmail-smtp-in.l.google.com [142.250.1.26] X=TLS1.3:x:256 CV=yes C=\"250 OK\"")
    assert remote.remote_host == "gmail-smtp-in.l.google.com" and remote.remote_ip == "142.250.1.26"
    add = parse_line(f"2026-11-27 10:00:03 {OLD} -> c@x.example <alias@client.tld> R=r T=t")
    assert add.kind is EventKind.ADDITIONAL and add.original_recipient == "alias@client.tld"
    cut = parse_line(f"2026-11-27 10:00:03 {OLD} >> u@d.example P=<s@x.example> R=all T=smtp H=h [127.0.0.1]")
    assert cut.kind is EventKind.CUTTHROUGH and cut.protocol is None and cut.extra["return_path"] == "s@x.example"
    sup = parse_line(f"2026-11-27 10:00:03 {OLD} *> accept <accept@y> R=accept T=appendfile")
    assert sup.kind is EventKind.SUPPRESSED


def test_deferral_failure_and_retry_lines() -> None:
    d = parse_line(
        f"2026-11-27 10:00:03 {OLD} == u@d.example R=dnslookup T=remote_smtp defer (-44) H=mx.d.example "
        "[192.0.2.1]: SMTP error from remote mail server after RCPT TO:<u@d.example>: 451-4.7.1 Greylisted\\n"
        "451 4.7.1 try again later"
    )
    assert d.kind is EventKind.DEFERRAL and d.extra["errno"] == "-44"
    assert d.smtp_code == 451 and d.enhanced_status == "4.7.1" and d.remote_ip == "192.0.2.1"
    assert d.diagnostic is not None and "\\n451 4.7.1 try again later" in d.diagnostic
    f = parse_line(f"2026-11-27 10:00:03 {OLD} ** nobody@client.tld R=virtual_aliases: No such person at this address.")
    assert f.kind is EventKind.FAILURE and f.router == "virtual_aliases"
    assert f.diagnostic == "No such person at this address."
    spaced = parse_line(f"2026-11-27 10:00:03 {OLD} ** n@t.ex R=c T=s H=127.0.0.1 [127.0.0.1] : SMTP error from "
                        "remote mail server after RCPT TO:<n@t.ex>: 550 NO")
    assert spaced.smtp_code == 550 and spaced.diagnostic is not None and spaced.diagnostic.startswith("SMTP error")
    unroute = parse_line(f"2026-11-27 10:00:03 {OLD} ** x@nowhere.example: Unrouteable address")
    assert unroute.recipient == "x@nowhere.example" and unroute.diagnostic == "Unrouteable address"
    skip = parse_line(f"2026-11-27 10:00:03 {OLD} == u@d.example R=dnslookup T=remote_smtp defer (-53): "
                      "retry time not reached for any host")
    assert skip.kind is EventKind.RETRY_NOT_REACHED and skip.recipient == "u@d.example"
    gone = parse_line(f"2026-11-27 10:00:03 {OLD} ** u@d.example R=dnslookup T=remote_smtp: retry timeout exceeded")
    assert gone.kind is EventKind.FAILURE and gone.extra["retry_timeout"] == "yes"


def test_housekeeping_and_session_lines() -> None:
    kinds = {
        f"{OLD} Completed QT=5s": EventKind.COMPLETED,
        f"{OLD} Frozen (delivery error message)": EventKind.FROZEN,
        f"{OLD} Unfrozen by errmsg timer": EventKind.UNFROZEN,
        "SMTP connection from [192.0.2.9]:4000 I=[203.0.113.10]:25 (TCP/IP connection count = 1)": EventKind.CONNECT,
        "SMTP connection from (x) [192.0.2.9]:4000 I=[203.0.113.10]:25 closed by QUIT": EventKind.DISCONNECT,
        "SMTP connection from [192.0.2.9]:4000 I=[203.0.113.10]:25 lost D=21s": EventKind.LOST,
        "no MAIL in SMTP connection from (User) [192.0.2.29]:20042 D=0.3s C=EHLO,QUIT": EventKind.NO_MAIL,
        "H=(User) [192.0.2.5]:1 F=<a@b.example> rejected RCPT <c@d.example>: relay not permitted": (
            EventKind.REJECT_RCPT),
        "H=[192.0.2.5] rejected connection in \"connect\" ACL": EventKind.REJECT_CONNECTION,
        "dovecot_login authenticator failed for (User) [192.0.2.5]:2857: 535 Incorrect authentication data "
        "(set_id=john@x.example)": EventKind.AUTH_FAILURE,
        "TLS error on connection from (e) [192.0.2.5]:1 (SSL_accept): unexpected eof": EventKind.TLS_ERROR,
        "Start queue run: pid=123": EventKind.QUEUE_RUN,
        f"{OLD} H=mx [192.0.2.1]: SMTP error from remote mail server after MAIL FROM:<>: 450 not now": (
            EventKind.REMOTE_ERROR),
    }
    for body, kind in kinds.items():
        ev = parse_line(f"2026-11-27 10:00:00 {body}")
        assert ev.kind is kind, body
    rej = parse_line("2026-11-27 10:00:00 H=(User) [192.0.2.5]:1 F=<a@b.example> rejected RCPT <c@d.example>: "
                     "relay not permitted")
    assert rej.sender == "a@b.example" and rej.recipient == "c@d.example" and rej.remote_ip == "192.0.2.5"
    assert rej.diagnostic == "relay not permitted"
    auth = parse_line("2026-11-27 10:00:00 login authenticator failed for (helo) [203.0.113.99]: 535 bad")
    assert auth.remote_ip == "203.0.113.99" and auth.smtp_code == 535


def test_unknown_fields_are_kept_and_ids_recognised() -> None:
    ev = parse_line(f"2026-11-27 10:00:00 {OLD} <= a@b.example H=h [192.0.2.1] P=esmtp S=10 DKIM=b.example ZZ=new")
    assert ev.extra["DKIM"] == "b.example" and ev.extra["ZZ"] == "new"
    assert is_message_id(OLD) and is_message_id(NEW) and not is_message_id("1tA2bC-0004Xy")
    assert parse_duration("1d2h3m4s") == 93784.0 and parse_duration("x") is None


def test_non_exim_lines() -> None:
    assert parse_line("").kind is EventKind.UNKNOWN
    assert parse_line("garbage \x00\x01").kind is EventKind.UNKNOWN
    assert parse_line("  Envelope-from: <a@b>").kind is EventKind.CONTINUATION


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_raises(tail: str) -> None:
    for prefix in ("", "2026-11-27 10:00:00 ", f"2026-11-27 10:00:00 {OLD} ", f"2026-11-27 10:00:00 {OLD} == "):
        ev = parse_line(prefix + tail)
        assert ev.raw == (prefix + tail).rstrip("\r\n")


def test_connection_error_with_host_last_and_retry_without_flag() -> None:
    d = parse_line(f"2026-11-26 06:57:44 [60541] {OLD} == orders@slow.example R=dkim_lookuphost T=dkim_remote_smtp "
                   "defer (110): Connection timed out H=mx.slow.example [198.51.100.31]")
    assert d.kind is EventKind.DEFERRAL and d.diagnostic == "Connection timed out"
    assert d.remote_host == "mx.slow.example" and d.remote_ip == "198.51.100.31" and d.extra["errno"] == "110"
    r = parse_line(f"2026-11-26 07:02:44 [58932] {OLD} orders@slow.example R=dkim_lookuphost T=dkim_remote_smtp: "
                   "retry time not reached for any host for 'slow.example'")
    assert r.kind is EventKind.RETRY_NOT_REACHED and r.recipient == "orders@slow.example"
    assert r.transport == "dkim_remote_smtp"


def test_exim_logging_to_syslog() -> None:
    from maildoctor.logs.formats import sniff_format

    lines = [f"Nov 27 10:00:00 mx1 exim[1234]: {NEW} <= a@b.example H=h [192.0.2.1] P=esmtp S=10 for c@d.example",
             f"Nov  7 10:00:01 mx1 exim[1235]: 2026-11-07 10:00:01 {NEW} Completed"]
    ev = parse_line(lines[0], 2026)
    assert ev.kind is EventKind.ARRIVAL and ev.message_id == NEW and ev.host == "mx1" and ev.pid == 1234
    assert ev.time == dt.datetime(2026, 11, 27, 10, 0, 0) and ev.remote_ip == "192.0.2.1"
    done = parse_line(lines[1])
    assert done.kind is EventKind.COMPLETED and done.time == dt.datetime(2026, 11, 7, 10, 0, 1) and done.pid == 1235
    fmt = sniff_format(lines)
    assert fmt is not None and fmt.name == "exim"
