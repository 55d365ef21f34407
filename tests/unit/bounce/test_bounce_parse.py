"""Parsing and classification of single bounces."""

from __future__ import annotations

from bounce_samples import EXIM_DELAY, EXIM_MULTI, EXIM_PIPE, POSTFIX_DSN

from maildoctor.bounce import parse_bounce
from maildoctor.bounce.mime import normalize_newlines, parse_mail
from maildoctor.bounce.reason import Fact, classify, status_reason


def test_exim_multi_recipient_keeps_each_diagnostic() -> None:
    b = parse_bounce(EXIM_MULTI, "m.eml")
    assert b.kind == "failure"
    assert b.agent == "Exim"
    by = {r.address: r for r in b.recipients}
    assert set(by) == {"bob@gone.example", "carol@full.example"}
    assert by["bob@gone.example"].reason == "userunknown"
    assert by["bob@gone.example"].status == "5.1.1"
    assert "User unknown" in by["bob@gone.example"].diagnostic
    assert "mailbox full" not in by["bob@gone.example"].diagnostic
    assert by["carol@full.example"].reason == "mailboxfull"
    assert by["carol@full.example"].smtp_code == "552"
    assert "User unknown" not in by["carol@full.example"].diagnostic
    assert by["bob@gone.example"].hard and not by["carol@full.example"].hard
    assert by["bob@gone.example"].command == "RCPT"
    assert by["bob@gone.example"].remote_mta == "mx.gone.example"
    assert b.original_message_id == "<figures-2026@store.example>"
    assert b.original_subject == "Quarterly figures"


def test_exim_delay_warning_is_a_delay_not_a_failure() -> None:
    b = parse_bounce(EXIM_DELAY)
    assert b.kind == "delay"
    (r,) = b.recipients
    assert r.address == "orders@slow-partner.example"
    assert r.action == "delayed"
    # the delay's own cause: 4.7.1 (greylisting) is "blocked" in the status table, as in Sisimai
    assert (r.reason, r.rule.id, r.status) == ("blocked", "status.4.7.1", "4.7.1")
    assert not r.hard


def test_exim_pipe_failure_names_the_generating_address_and_target() -> None:
    b = parse_bounce(EXIM_PIPE)
    (r,) = b.recipients
    assert r.address == "support@store.example"
    assert r.target == "pipe to |/home/storeacct/tickets/pipe.php"
    assert r.reason == "mailererror"
    assert "returned 127" in r.diagnostic


def test_postfix_dsn_fields_and_original() -> None:
    b = parse_bounce(POSTFIX_DSN)
    assert b.kind == "failure"
    assert b.reporting_mta == "mx.example.jp"
    (r,) = b.recipients
    assert (r.address, r.status, r.smtp_code, r.command, r.reason) == (
        "kijitora@example.jp", "5.1.1", "550", "RCPT", "userunknown"
    )
    assert r.remote_mta == "mx2.example.jp"
    assert r.rule.id.startswith(("reason.", "status."))
    assert b.original_message_id == "<abc@store.example>"


def test_crlf_and_cr_give_the_same_result() -> None:
    lf = parse_bounce(EXIM_MULTI)
    crlf = parse_bounce(EXIM_MULTI.replace(b"\n", b"\r\n"))
    cr = parse_bounce(EXIM_MULTI.replace(b"\n", b"\r"))
    assert lf == crlf == cr
    assert normalize_newlines(b"a\r\nb\rc\n") == b"a\nb\nc\n"


def test_declared_multipart_without_boundaries_is_read_as_text() -> None:
    raw = POSTFIX_DSN.replace(b'boundary="B1"', b'boundary="NOT-USED"')
    mail = parse_mail(raw)
    assert "Final-Recipient" in mail.body
    assert parse_bounce(raw).recipients[0].address == "kijitora@example.jp"


def test_plain_message_is_not_a_bounce() -> None:
    raw = b"From: a@example.org\nTo: b@example.org\nSubject: lunch?\n\nAre you free at noon?\n"
    b = parse_bounce(raw)
    assert b.kind == "not_bounce"
    assert b.recipients == ()


def test_autoreply_is_recognised() -> None:
    raw = (
        b"From: Kim <kim@example.org>\nTo: a@example.net\nSubject: Out of office: hello\n"
        b"Auto-Submitted: auto-replied\n\nI am out of the office until Monday.\n"
    )
    b = parse_bounce(raw)
    assert b.kind == "autoreply"
    assert [(r.address, r.reason) for r in b.recipients] == [("kim@example.org", "vacation")]


def test_arf_feedback_report_is_recognised() -> None:
    raw = (
        b"From: fbl@isp.example\nTo: abuse@store.example\nSubject: FW: report\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        b"--F\nContent-Type: text/plain\n\nThis is an abuse report.\n"
        b"--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: x/1\nVersion: 1\n"
        b"Original-Rcpt-To: <victim@isp.example>\n"
        b"--F\nContent-Type: text/rfc822-headers\n\nFrom: news@store.example\nMessage-ID: <n1@store.example>\n--F--\n"
    )
    b = parse_bounce(raw)
    assert b.kind == "feedback"
    (r,) = b.recipients
    assert (r.address, r.reason, r.feedback_type) == ("victim@isp.example", "feedback", "abuse")
    assert b.original_message_id == "<n1@store.example>"


def test_status_table_and_phrases() -> None:
    assert status_reason("5.1.1") == "userunknown"
    assert status_reason("5.2.2") == "mailboxfull"
    assert status_reason("5.9.9") == ""
    reason, rule = classify(Fact(status="5.0.0", diagnostic="550 Sorry, no mailbox here by that name", command="RCPT"))
    assert reason == "userunknown" and rule.id == "reason.userunknown"
    assert rule.matched == "Sorry, no mailbox here by that name"
    diag = "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"
    reason, _ = classify(Fact(status="5.7.1", diagnostic=diag))
    assert reason == "blocked"
    reason, _ = classify(Fact(status="4.0.0", diagnostic="", action="delayed"))
    assert reason == "expired"
    reason, rule = classify(Fact(status="", diagnostic="something odd happened"))
    assert (reason, rule.id) == ("onhold", "no-rule-matched")
