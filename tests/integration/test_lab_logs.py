"""The lab's real Exim and Postfix logs contain what each scenario must produce."""

from __future__ import annotations

import re

import pytest

from mdlab import LabRun

pytestmark = pytest.mark.integration

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \[(\d+)\] (?:(\w{6}-\w{6}-\w{2}|\w{6}-\w{11}-\w{4}) )?(.*)$")


def lines_for(lab: LabRun, message_id: str) -> list[str]:
    """The main-log lines of one message (the text after the id)."""
    out = []
    for line in lab.mainlog.read_text().splitlines():
        m = LINE.match(line)
        if m and m.group(3) == message_id:
            out.append(m.group(4))
    return out


def first_id(lab: LabRun, name: str) -> str:
    sc = lab.scenarios[name]
    assert sc.message_ids, f"{name}: no message id ({sc.notes}; reply {sc.smtp_response!r})"
    return sc.message_ids[0]


def test_every_main_log_line_has_time_pid_and_parses(lab: LabRun) -> None:
    lines = lab.mainlog.read_text().splitlines()
    assert len(lines) > 200
    bad = [line for line in lines if not LINE.match(line)]
    assert bad == []


def test_panic_log_is_empty(lab: LabRun) -> None:
    assert lab.paniclog.read_text() == ""


DELIVERED = ["delivered_local", "default_address", "spf_pass", "spf_softfail_logged", "spf_neutral", "spf_permerror",
             "auth_submission", "auth_smtps", "delayed_then_delivered"]  # fmt: skip


@pytest.mark.parametrize("name", DELIVERED)
def test_delivered_scenarios_have_arrival_delivery_and_completion(lab: LabRun, name: str) -> None:
    sc = lab.scenarios[name]
    lines = lines_for(lab, first_id(lab, name))
    assert sc.smtp_response.startswith("250 ") and sc.message_ids[0] in sc.smtp_response
    assert any(x.startswith(f"<= {sc.sender} ") for x in lines), lines
    for rcpt in sc.recipients:  # local deliveries log "=> localpart <address>"
        assert any(x.startswith("=> ") and (x.split()[1] == rcpt or f" <{rcpt}> " in x) for x in lines), lines
    assert lines[-1] == "Completed"


@pytest.mark.parametrize(
    ("name", "diagnostic"),
    [
        ("remote_user_unknown", "550-5.1.1 <nouser@remote.test>: Recipient address rejected"),
        ("remote_blocked_spam", "554 5.7.1 Message rejected as spam"),
        ("fail_forwarder", "No such person at this address"),
        ("pipe_exit1", "Child process of virtual_address_pipe transport returned 1"),
        ("pipe_output", "virtual_address_pipe transport output: PHP Warning"),
        ("retry_timeout", "retry timeout exceeded"),
    ],
)
def test_failed_scenarios_have_a_failure_line_with_the_diagnostic_and_a_bounce(
    lab: LabRun, name: str, diagnostic: str
) -> None:
    msg = first_id(lab, name)
    lines = lines_for(lab, msg)
    failures = [x for x in lines if x.startswith("** ")]
    assert failures, lines
    assert any(diagnostic in x for x in lines), lines
    assert lines[-1] == "Completed"
    bounce_arrivals = [
        x for x in lab.mainlog.read_text().splitlines() if f"<= <> R={msg} " in x and "Mail delivery failed" in x
    ]
    assert len(bounce_arrivals) == 1


@pytest.mark.parametrize(
    ("name", "diagnostic"),
    [
        ("remote_mailbox_full", "452 4.2.2 The email account that you tried to reach is over quota"),
        ("remote_greylisted", "451 4.7.1 Greylisted, please try again later"),
        ("remote_too_many_connections", "after initial connection: 421-4.7.0 mx.busy.test Too many concurrent"),
        ("delay_warning", "defer (111): Connection refused"),
        ("local_mailbox_full", "defer (-22) DT=0s: mailbox is full (MTA-imposed quota exceeded while writing to"),
    ],
)
def test_deferred_scenarios_are_retried_and_still_queued(lab: LabRun, name: str, diagnostic: str) -> None:
    msg = first_id(lab, name)
    lines = lines_for(lab, msg)
    deferrals = [x for x in lines if x.startswith("== ")]
    assert len(deferrals) >= 2, lines  # the first attempt and the forced queue runs
    assert all(diagnostic in x for x in deferrals), deferrals
    assert "Completed" not in lines
    assert msg in lab.exim("-bp").stdout


def test_delay_warning_was_sent_for_the_slow_message(lab: LabRun) -> None:
    msg = first_id(lab, "delay_warning")
    log = lab.mainlog.read_text()
    assert re.search(rf"<= <> R={msg} U=Debian-exim P=local .*T=\"Warning: message {msg} delayed", log)


def test_retry_timeout_follows_earlier_deferrals(lab: LabRun) -> None:
    lines = lines_for(lab, first_id(lab, "retry_timeout"))
    kinds = [x[:2] for x in lines if x[:2] in ("==", "**")]
    assert kinds[0] == "==" and kinds[-1] == "**"
    assert any("retry timeout exceeded" in x for x in lines if x.startswith("** "))


def test_delayed_then_delivered_was_greylisted_first(lab: LabRun) -> None:
    lines = lines_for(lab, first_id(lab, "delayed_then_delivered"))
    defer = next(i for i, x in enumerate(lines) if x.startswith("== later@remote.test"))
    deliver = next(i for i, x in enumerate(lines) if x.startswith("=> later@remote.test"))
    assert defer < deliver
    assert "451 4.7.1 Greylisted" in lines[defer]
    queue_time = re.search(r" QT=(\d+)s", lines[deliver])
    assert queue_time is not None and int(queue_time[1]) >= 10


def test_frozen_bounce_is_frozen_in_log_and_queue(lab: LabRun) -> None:
    sc = lab.scenarios["frozen"]
    assert len(sc.message_ids) == 2
    original, bounce = sc.message_ids
    assert any("No such person at this address" in x for x in lines_for(lab, original))
    bounce_lines = lines_for(lab, bounce)
    assert any(x.startswith("** spammer@nxdomain.test") and "Unrouteable address" in x for x in bounce_lines)
    assert "Frozen (delivery error message)" in bounce_lines
    queue = lab.exim("-bp").stdout
    assert re.search(rf"{bounce} <> \*\*\* frozen \*\*\*", queue)


def test_multi_recipient_message_fails_each_recipient_with_its_own_reason(lab: LabRun) -> None:
    lines = lines_for(lab, first_id(lab, "multi_recipient_bounce"))
    failed = {x.split()[1]: x for x in lines if x.startswith("** ")}
    assert set(failed) == set(lab.scenarios["multi_recipient_bounce"].recipients)
    assert "550-5.1.1" in failed["nouser1@remote.test"]
    assert "550 5.2.1" in failed["disabled@remote.test"]
    assert "No such person at this address" in failed["gone@alice-shop.test"]
    assert "No such person at this address" in failed["nobody@alice-shop.test"]


@pytest.mark.parametrize(
    ("name", "recipient", "reply"),
    [
        ("spf_fail_rejected", "info@alice-shop.test", "550 5.7.23 SPF: 198.51.100.10 is not allowed"),
        ("default_fail", "nobody@alice-shop.test", "550 No such person at this address"),
        ("spf_temperror", "info@alice-shop.test", "451 4.4.3 Temporary DNS error while checking SPF"),
        ("sender_verify_fail", "info@alice-shop.test", "550 Verification failed for <someone@nxdomain.test>"),
    ],
)
def test_rejected_scenarios_are_in_the_reject_log(lab: LabRun, name: str, recipient: str, reply: str) -> None:
    sc = lab.scenarios[name]
    assert sc.message_ids == []
    assert sc.smtp_response.startswith(reply)
    rejects = [x for x in lab.rejectlog.read_text().splitlines() if f"F=<{sc.sender}>" in x]
    assert len(rejects) == 1
    assert f"[{sc.client_ip}]" in rejects[0]
    assert f"rejected RCPT <{recipient}>" in rejects[0]


def test_spf_fail_reject_names_the_spf_result(lab: LabRun) -> None:
    rejects = lab.rejectlog.read_text()
    assert (
        "SPF check failed: host.lab-hosting.test: domain of spf-fail.test does not designate 198.51.100.10" in rejects
    )


def test_spf_softfail_and_permerror_are_logged_as_warnings(lab: LabRun) -> None:
    log = lab.mainlog.read_text()
    assert re.search(r"H=client\.spf-pass\.test \[198\.51\.100\.10\]:\d+ .*Warning: SPF softfail for spf-softfail", log)
    assert "Warning: SPF permerror for spf-permerror.test" in log
    assert "too many DNS lookups" in log


def test_auth_submission_shows_tls_and_the_authenticated_user(lab: LabRun) -> None:
    for name, port, auth in (("auth_submission", 587, "dovecot_plain"), ("auth_smtps", 465, "dovecot_login")):
        arrival = next(x for x in lines_for(lab, first_id(lab, name)) if x.startswith("<= "))
        assert f"I=[192.0.2.10]:{port} P=esmtpsa X=TLS" in arrival
        assert f" A={auth}:sales@alice-shop.test " in arrival


def test_script_flood_looks_like_a_cpanel_website_script(lab: LabRun) -> None:
    sc = lab.scenarios["script_flood"]
    assert len(sc.message_ids) == 30
    log = lab.mainlog.read_text()
    cwd_lines = re.findall(r"cwd=/home/bob/public_html/wp-content/uploads 3 args: /usr/sbin/sendmail -t -i", log)
    assert len(cwd_lines) == 30 + 10  # script_flood and script_flood_queued
    for msg in sc.message_ids:
        lines = lines_for(lab, msg)
        assert lines[0].startswith("<= bob@host.lab-hosting.test U=bob P=local ")
        assert 'T="Urgent: verify your account' in lines[0]
        assert lines[-1] == "Completed"


def test_postfix_log_has_the_bounce_and_the_deferral(lab: LabRun) -> None:
    log = lab.postfix_log.read_text()
    bounced = lab.scenarios["postfix_bounce"].message_ids[0]
    deferred = lab.scenarios["postfix_deferred"].message_ids[0]
    assert re.search(rf"postfix/smtp\[\d+\]: {bounced}: to=<nouser-pf@remote.test>, .*dsn=5\.1\.1, status=bounced", log)
    assert re.search(rf"postfix/bounce\[\d+\]: {bounced}: sender non-delivery notification: \w+", log)
    assert re.search(rf"{deferred}: to=<greylist@remote.test>, .*dsn=4\.7\.1, status=deferred", log)
    # the notification went back to the hosting server and was accepted there
    assert re.search(r"to=<sales@alice-shop.test>, relay=host.lab-hosting.test\[192.0.2.10\]:25, .*status=sent", log)


def test_queued_script_flood_fills_the_queue_with_one_users_mail(lab: LabRun) -> None:
    sc = lab.scenarios["script_flood_queued"]
    originals = sc.message_ids[:10]
    queue = lab.exim("-bp").stdout
    for msg in originals:
        lines = lines_for(lab, msg)
        assert lines[0].startswith("<= bob@host.lab-hosting.test U=bob P=local ")
        assert any(x.startswith("== customer") and "421-4.7.0 mx.busy.test" in x for x in lines)
        assert re.search(rf"{msg} <bob@host\.lab-hosting\.test>", queue)


def test_auth_is_advertised_only_after_tls(lab: LabRun) -> None:
    base = ["swaks", "--server", lab.local_ip, "--port", str(lab.smtp_ports["submission"]), "--quit-after", "EHLO"]
    plain = lab.run([*base, "--helo", "laptop"]).stdout
    assert "250-STARTTLS" in plain and "AUTH" not in plain
    tls = lab.run([*base, "--helo", "laptop", "--tls"]).stdout
    assert re.search(r"^<~  250-AUTH PLAIN LOGIN$", tls, re.M)


def test_sender_verify_failure_is_logged_with_its_reason(lab: LabRun) -> None:
    log = lab.mainlog.read_text()
    pattern = r"\[198\.51\.100\.10\]:\d+ I=\S+ sender verify fail for <someone@nxdomain\.test>: Unrouteable address"
    assert re.search(pattern, log)
