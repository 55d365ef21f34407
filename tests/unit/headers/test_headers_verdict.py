"""The join with our own log and the verdict: before us, on our server (and why), after us."""

from __future__ import annotations

from pathlib import Path

from headers_samples import DEFERRED_LOG, EXIM_ID

from maildoctor.headers.analyze import analyze_headers
from maildoctor.headers.hops import analyze_chain
from maildoctor.headers.message import parse_header_text
from maildoctor.headers.verdict import candidate_ids, decide, read_local


def _headers(ours: str, theirs: str, first: str | None = None) -> str:
    lines = [
        f"Received: from mx.example.org (mx.example.org [198.51.100.25]) by inbox.example.com (Postfix) "
        f"with ESMTPS id 4F3D21234 for <bob@example.com>; {theirs}",
        f"Received: from laptop ([203.0.113.9]) by mx.example.org with esmtpsa (Exim 4.96) id {EXIM_ID}; {ours}",
    ]
    if first:
        lines.append(f"Received: from client.example.net by relay.example.net with ESMTP id R1; {first}")
    return "\n".join(lines) + "\nMessage-ID: <abc123@example.org>\nSubject: hello\n\n"


def test_candidate_ids_newest_first() -> None:
    chain = analyze_chain(
        parse_header_text(_headers("Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 13:00:04 +0000")).get_all(
            "Received"
        )
    )
    # the next server's Postfix id is tried first (newest hop), then ours
    assert candidate_ids(chain) == [(2, "postfix", "4F3D21234"), (1, "exim", EXIM_ID)]


def test_delay_on_our_server_names_the_deferral(tmp_path: Path) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text(DEFERRED_LOG)
    headers = parse_header_text(_headers("Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 13:00:04 +0000"))
    chain = analyze_chain(headers.get_all("Received"), headers.first("Date"))
    local, problems = read_local(chain, headers.first("Message-ID"), [log])
    assert problems == []
    assert local is not None and local.hop_index == 1 and local.matched_by == f"exim id {EXIM_ID}"
    assert len(local.deferrals) == 2 and "451 4.7.1 Greylisted" in local.deferrals[0].answer
    assert local.zone_known
    report = analyze_headers(headers, local)
    v = report.verdict
    assert v.where == "on_our_server"
    assert v.here_seconds == 3603.0 and v.after_seconds == 1.0
    assert "Greylisted" in v.summary
    finding = next(f for f in report.findings if f.id == "headers.verdict")
    assert finding.severity.value == "warning"
    assert any(e.source == str(log) and e.line == 2 for e in finding.evidence)
    doc = report.to_json()
    assert doc["local"]["queue_seconds"] == 3603.0 and doc["verdict"]["where"] == "on_our_server"


def test_delay_before_us(tmp_path: Path) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text(
        f"2024-01-01 12:00:00 {EXIM_ID} <= alice@example.org H=relay.example.net [198.51.100.2] P=esmtps S=1234 "
        "id=abc123@example.org\n"
        f"2024-01-01 12:00:02 {EXIM_ID} => bob@example.com R=dnslookup T=remote_smtp H=inbox.example.com "
        '[192.0.2.30] C="250 ok"\n'
        f"2024-01-01 12:00:02 {EXIM_ID} Completed\n"
    )
    text = _headers(
        "Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 12:00:03 +0000", first="Mon, 1 Jan 2024 09:00:00 +0000"
    )
    headers = parse_header_text(text)
    chain = analyze_chain(headers.get_all("Received"))
    local, _ = read_local(chain, None, [log])
    assert local is not None and local.hop_index == 2
    v = decide(chain, local)
    assert v.where == "before_us" and v.before_seconds == 10800.0 and v.here_seconds == 2.0


def test_found_by_message_id_when_no_hop_id_matches(tmp_path: Path) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text(DEFERRED_LOG.replace(EXIM_ID, "1rSzzz-0009Zz-9Z"))
    headers = parse_header_text(_headers("Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 13:00:04 +0000"))
    chain = analyze_chain(headers.get_all("Received"))
    local, _ = read_local(chain, headers.first("Message-ID"), [log])
    assert local is not None and local.matched_by.startswith("message-id") and local.hop_index is None
    assert decide(chain, local).where == "on_our_server"


def test_not_in_log(tmp_path: Path) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text("2024-01-01 12:00:00 1rSqqq-0001Qq-1Q <= x@example.org H=a [192.0.2.1] P=esmtp S=1 id=zz@x\n")
    headers = parse_header_text(_headers("Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 13:00:04 +0000"))
    local, _ = read_local(analyze_chain(headers.get_all("Received")), headers.first("Message-ID"), [log])
    assert local is None


def test_headers_only_verdict_names_the_holder() -> None:
    headers = parse_header_text(_headers("Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 13:00:04 +0000"))
    v = decide(analyze_chain(headers.get_all("Received")), None)
    assert v.where == "unknown" and "mx.example.org" in v.summary and "1 h" in v.summary


POSTFIX_LOG = """\
Jan  1 12:00:00 mx postfix/smtpd[123]: 4F3D21234: client=laptop[203.0.113.9], sasl_method=PLAIN, sasl_username=alice
Jan  1 12:00:00 mx postfix/cleanup[124]: 4F3D21234: message-id=<abc123@example.org>
Jan  1 12:00:00 mx postfix/qmgr[125]: 4F3D21234: from=<alice@example.org>, size=1234, nrcpt=1 (queue active)
Jan  1 12:00:01 mx postfix/smtp[126]: 4F3D21234: to=<bob@example.com>, relay=inbox.example.com[192.0.2.30]:25, \
delay=1.2, delays=0.1/0/0.5/0.6, dsn=4.7.1, status=deferred (host inbox.example.com[192.0.2.30] said: \
451 4.7.1 Greylisted, please try again later (in reply to RCPT TO command))
Jan  1 13:00:03 mx postfix/smtp[127]: 4F3D21234: to=<bob@example.com>, relay=inbox.example.com[192.0.2.30]:25, \
delay=3603, delays=3600/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9ABCDEF)
Jan  1 13:00:03 mx postfix/qmgr[125]: 4F3D21234: removed
"""


def test_postfix_join_with_syslog_year_taken_from_our_stamp(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(POSTFIX_LOG)  # written now: the reader guesses this year, not 2024
    text = (
        "Received: from mx.example.org (mx.example.org [198.51.100.25]) by inbox.example.com (Postfix) with ESMTPS"
        " id 9ABCDEF; Mon, 1 Jan 2024 13:00:04 +0000\n"
        "Received: from laptop (unknown [203.0.113.9]) by mx.example.org (Postfix) with ESMTPSA id 4F3D21234;"
        " Mon, 1 Jan 2024 12:00:00 +0000\nMessage-ID: <abc123@example.org>\n\n"
    )
    headers = parse_header_text(text)
    chain = analyze_chain(headers.get_all("Received"))
    local, problems = read_local(chain, headers.first("Message-ID"), [log])
    assert problems == []
    assert local is not None and local.matched_by == "postfix id 4F3D21234" and local.hop_index == 1
    assert local.arrival is not None and local.arrival.year == 2024
    assert [d.answer for d in local.deferrals] and "451 4.7.1 Greylisted" in local.deferrals[0].answer
    v = decide(chain, local)
    assert v.where == "on_our_server" and v.here_seconds is not None and v.here_seconds >= 3600


def test_found_by_message_id_quick_here_points_at_the_slow_hop(tmp_path: Path) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text(
        "2024-01-01 12:00:00 1rSzzz-0009Zz-9Z <= alice@example.org H=relay.example.net [198.51.100.2] P=esmtps"
        " S=1234 id=abc123@example.org\n"
        "2024-01-01 12:00:02 1rSzzz-0009Zz-9Z => bob@example.com R=dnslookup T=remote_smtp H=inbox.example.com"
        ' [192.0.2.30] C="250 ok"\n'
        "2024-01-01 12:00:02 1rSzzz-0009Zz-9Z Completed\n"
    )
    headers = parse_header_text(_headers("Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 13:00:04 +0000"))
    chain = analyze_chain(headers.get_all("Received"))
    local, _ = read_local(chain, headers.first("Message-ID"), [log])
    assert local is not None and local.hop_index is None
    v = decide(chain, local)
    assert v.where == "unknown" and v.summary.startswith("Our server handled it in 2 s") and "hop 2" in v.summary


def test_still_queued_message_is_reported_as_not_delivered(tmp_path: Path) -> None:
    log = tmp_path / "exim_mainlog"
    log.write_text("".join(line + "\n" for line in DEFERRED_LOG.splitlines()[:3]))  # deferred twice, no delivery
    headers = parse_header_text(_headers("Mon, 1 Jan 2024 12:00:00 +0000", "Mon, 1 Jan 2024 13:00:04 +0000"))
    chain = analyze_chain(headers.get_all("Received"))
    local, _ = read_local(chain, None, [log])
    assert local is not None and local.story.final_status == "deferred"
    report = analyze_headers(headers, local)
    verdict = next(f for f in report.findings if f.id == "headers.verdict")
    assert "has not delivered it (deferred)" in verdict.title and verdict.severity.value == "warning"
    assert "bob@example.com deferred" in verdict.explanation and "Greylisted" in verdict.explanation


AMAVIS_LOG = """\
Jan  1 12:00:00 mx postfix/smtpd[101]: 4F3D21234: client=laptop[203.0.113.9], sasl_method=PLAIN, sasl_username=alice
Jan  1 12:00:00 mx postfix/cleanup[102]: 4F3D21234: message-id=<abc123@example.org>
Jan  1 12:00:00 mx postfix/qmgr[103]: 4F3D21234: from=<alice@example.org>, size=1234, nrcpt=1 (queue active)
Jan  1 12:40:00 mx postfix/smtp[104]: 4F3D21234: to=<bob@example.com>, relay=127.0.0.1[127.0.0.1]:10024, \
delay=2400, delays=0.1/2399/0.3/0.6, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): \
250 2.0.0 Ok: queued as 5A6B7C8D9)
Jan  1 12:40:00 mx postfix/qmgr[103]: 4F3D21234: removed
Jan  1 12:40:00 mx postfix/smtpd[105]: 5A6B7C8D9: client=localhost[127.0.0.1]
Jan  1 12:40:00 mx postfix/cleanup[102]: 5A6B7C8D9: message-id=<abc123@example.org>
Jan  1 12:40:00 mx postfix/qmgr[103]: 5A6B7C8D9: from=<alice@example.org>, size=1500, nrcpt=1 (queue active)
Jan  1 12:40:01 mx postfix/smtp[106]: 5A6B7C8D9: to=<bob@example.com>, relay=inbox.example.com[192.0.2.30]:25, \
delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9ABCDEF)
Jan  1 12:40:01 mx postfix/qmgr[103]: 5A6B7C8D9: removed
"""


def test_content_filter_requeue_counts_as_our_server(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_text(AMAVIS_LOG)
    text = (
        "Received: from mx.example.org (mx.example.org [198.51.100.25]) by inbox.example.com (Postfix)"
        " with ESMTPS id 9ABCDEF; Mon, 1 Jan 2024 12:40:02 +0000\n"
        "Received: from localhost (localhost [127.0.0.1]) by mx.example.org (Postfix) with ESMTP id 5A6B7C8D9;"
        " Mon, 1 Jan 2024 12:40:00 +0000\n"
        "Received: from mx.example.org ([127.0.0.1]) by localhost (mx.example.org [127.0.0.1]) (amavisd-new,"
        " port 10024) with ESMTP id AbCdEfGh1234; Mon, 1 Jan 2024 12:39:59 +0000\n"
        "Received: from laptop (unknown [203.0.113.9]) by mx.example.org (Postfix) with ESMTPSA id 4F3D21234;"
        " Mon, 1 Jan 2024 12:00:00 +0000\nMessage-ID: <abc123@example.org>\n\n"
    )
    headers = parse_header_text(text)
    chain = analyze_chain(headers.get_all("Received"))
    local, _ = read_local(chain, headers.first("Message-ID"), [log])
    assert local is not None
    assert (local.first_hop_index, local.hop_index) == (1, 3)
    assert [st.id for st in local.stories] == ["5A6B7C8D9", "4F3D21234"]
    assert local.queue_seconds == 2401.0
    v = decide(chain, local)
    assert v.where == "on_our_server" and v.before_seconds == 0.0 and v.after_seconds == 1.0
    assert any("mostly in the queue" in r and "delays=0.1/2399/0.3/0.6" in r for r in v.reasons)
    assert any("content filter" in r for r in v.reasons)
