# ruff: noqa: E501  (real log lines are long)
"""trace on a Postfix log: queue id, Message-ID and address queries, the bounce's queue id."""

from __future__ import annotations

from pathlib import Path

from maildoctor.logs.trace import trace

LOG = """Nov 27 10:00:00 mx1 postfix/smtpd[11]: 4B2C3D1E2F: client=mail.x.example[198.51.100.3]:4455, sasl_method=LOGIN, sasl_username=bob@client.tld
Nov 27 10:00:00 mx1 postfix/cleanup[12]: 4B2C3D1E2F: message-id=<abc@x.example>
Nov 27 10:00:00 mx1 postfix/qmgr[13]: 4B2C3D1E2F: from=<bob@client.tld>, size=2666, nrcpt=2 (queue active)
Nov 27 10:00:01 mx1 postfix/smtp[14]: 4B2C3D1E2F: to=<ok@y.example>, relay=mx.y.example[192.0.2.2]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 99)
Nov 27 10:00:01 mx1 postfix/smtp[14]: 4B2C3D1E2F: to=<a@x.example>, relay=mx.x.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.x.example[192.0.2.1] said: 550 5.1.1 <a@x.example>: User unknown (in reply to RCPT TO command))
Nov 27 10:00:01 mx1 postfix/cleanup[12]: 5C6D7E8F90: message-id=<20261127100001.5C6D7E8F90@mx1>
Nov 27 10:00:01 mx1 postfix/bounce[15]: 4B2C3D1E2F: sender non-delivery notification: 5C6D7E8F90
Nov 27 10:00:01 mx1 postfix/qmgr[13]: 5C6D7E8F90: from=<>, size=4000, nrcpt=1 (queue active)
Nov 27 10:00:01 mx1 postfix/qmgr[13]: 4B2C3D1E2F: removed
Nov 27 10:00:02 mx1 postfix/local[16]: 5C6D7E8F90: to=<bob@client.tld>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)
Nov 27 10:00:02 mx1 postfix/qmgr[13]: 5C6D7E8F90: removed
Nov 27 10:05:00 mx1 postfix/qmgr[13]: 7A7A7A7A7A: from=<bob@client.tld>, size=10, nrcpt=1 (queue active)
Nov 27 10:05:30 mx1 postfix/smtp[14]: 7A7A7A7A7A: to=<slow@z.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.z.example[192.0.2.3]:25: Connection timed out)
"""


def test_postfix_queue_id_message_id_and_address(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(LOG)
    for query in ("4B2C3D1E2F", "<abc@x.example>", "abc@x.example"):
        result = trace(query, [log])
        first = result.by_id("4B2C3D1E2F")
        assert first is not None, query
        assert first.final_status == "partial" and first.message_id == "abc@x.example"
        assert first.source["kind"] == "smtp-auth" and first.source["ip"] == "198.51.100.3"
        assert {r.address: r.status for r in first.recipients} == {"ok@y.example": "delivered", "a@x.example": "failed"}
        assert first.related == ["5C6D7E8F90"] and first.evidence[0].line_no == 1
        bounce = result.by_id("5C6D7E8F90")
        assert bounce is not None and bounce.is_bounce and bounce.parent_id == "4B2C3D1E2F"
        assert bounce.final_status == "delivered" and bounce.evidence[0].line_no == 6
    by_sender = trace("bob@client.tld", [log])
    assert {s.id for s in by_sender.messages} >= {"4B2C3D1E2F", "5C6D7E8F90", "7A7A7A7A7A"}
    stuck = by_sender.by_id("7A7A7A7A7A")
    assert stuck is not None and stuck.final_status == "deferred"
    assert stuck.recipients[0].explanation is not None and stuck.recipients[0].explanation["id"] == "connection-timeout"


def test_expired_message_fails_its_deferred_recipients(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(LOG + "Nov 28 10:05:30 mx1 postfix/qmgr[13]: 7A7A7A7A7A: from=<bob@client.tld>, status=expired, returned to sender\n")
    story = trace("7A7A7A7A7A", [log]).by_id("7A7A7A7A7A")
    assert story is not None and story.final_status == "failed"
    assert story.recipients[0].status == "failed" and "expired" in (story.recipients[0].last_response or "")


def test_limit_keeps_the_newest_and_counts_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(LOG)
    # bob's messages by first line: 4B2C (he sent it), 5C6D (the bounce to him), 7A7A (he sent it)
    newest = trace("bob@client.tld", [log], limit=1)
    assert [s.id for s in newest.messages] == ["7A7A7A7A7A"]
    assert newest.more == 2
    two = trace("bob@client.tld", [log], limit=2)
    assert [s.id for s in two.messages] == ["5C6D7E8F90", "7A7A7A7A7A"] and two.more == 1
    # a chosen message brings the bounce it caused, even past the limit
    sender = trace("<abc@x.example>", [log], limit=1)
    assert [s.id for s in sender.messages] == ["4B2C3D1E2F", "5C6D7E8F90"] and sender.more == 0
