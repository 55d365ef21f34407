"""maildoctor bounce on the real Exim and Postfix bounces of the lab, with the lab's server root.

Where Sisimai (Debian's libsisimai-perl) falls short on the same files, the test prints what it
says: it reports delay warnings as bounces, and gives every recipient of a multi-recipient Exim
bounce the same status and reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from maildoctor.bounce import Bounce, parse_bounce
from maildoctor.bounce.local_cause import add_local_causes
from mdlab import LabRun
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def _bounce(lab: LabRun, path: Path) -> Bounce:
    return add_local_causes(lab.root, parse_bounce(path.read_bytes(), str(path)))


def _only(lab: LabRun, name: str) -> Path:
    found = [p for p in lab.bounces if p in lab.scenarios[name].files]
    assert len(found) == 1, (name, found)
    return found[0]


def _line_of(path: Path, prefix: str) -> int:
    for no, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith(prefix):
            return no
    raise AssertionError(f"{prefix!r} not in {path}")


def _sisimai(path: Path) -> list[str]:
    if shutil.which("perl") is None:
        return []
    script = (
        "use Sisimai; my $v = Sisimai->make($ARGV[0]) || []; "
        "printf qq(%s %s %s %s\\n), $_->recipient->address, $_->reason, $_->deliverystatus, $_->replycode for @$v;"
    )
    res = subprocess.run(["perl", "-e", script, str(path)], capture_output=True, text=True, timeout=60)
    return res.stdout.splitlines() if res.returncode == 0 else []


def test_delay_warnings_are_delays_not_failures(lab: LabRun) -> None:
    assert lab.delay_warnings
    for path in lab.delay_warnings:
        b = _bounce(lab, path)
        assert b.kind == "delay", path
        assert all(r.action == "delayed" and not r.hard for r in b.recipients)
    warned = [p for p in lab.delay_warnings if p in lab.scenarios["delay_warning"].files]
    (warning,) = warned
    b = _bounce(lab, warning)
    (r,) = b.recipients
    assert r.address == "queued@slow.test"
    # the warning itself says nothing about why; our server's log does
    assert r.local_cause is not None and r.local_cause.kind == "deferral"
    assert "Connection refused" in r.local_cause.summary
    print("\nSisimai on the delay warning:", _sisimai(warning))


def test_retry_timeout_is_a_failure(lab: LabRun) -> None:
    b = _bounce(lab, _only(lab, "retry_timeout"))
    assert b.kind == "failure"
    assert [(r.address, r.reason) for r in b.recipients] == [("someone@dead.test", "expired")]


def test_multi_recipient_bounce_keeps_each_recipients_diagnostic(lab: LabRun) -> None:
    path = _only(lab, "multi_recipient_bounce")
    b = _bounce(lab, path)
    by = {r.address: r for r in b.recipients}
    assert set(by) == set(lab.scenarios["multi_recipient_bounce"].recipients)
    assert (by["nouser1@remote.test"].reason, by["nouser1@remote.test"].status) == ("userunknown", "5.1.1")
    assert (by["disabled@remote.test"].reason, by["disabled@remote.test"].status) == ("suspend", "5.2.1")
    assert "5.2.1" not in by["nouser1@remote.test"].diagnostic
    assert "5.1.1" not in by["disabled@remote.test"].diagnostic
    for local in ("gone@alice-shop.test", "nobody@alice-shop.test"):
        assert "No such person at this address" in by[local].diagnostic
        assert not by[local].smtp_code  # refused by our own router, not by a remote server
    valiases = lab.root / "etc/valiases/alice-shop.test"
    gone = by["gone@alice-shop.test"].local_cause
    assert gone is not None and gone.kind == "fail_forwarder"
    assert (gone.file, gone.line) == ("/etc/valiases/alice-shop.test", _line_of(valiases, "gone@alice-shop.test:"))
    nobody = by["nobody@alice-shop.test"].local_cause
    assert nobody is not None and nobody.kind == "default_fail"
    assert (nobody.file, nobody.line) == ("/etc/valiases/alice-shop.test", _line_of(valiases, "*:"))
    print("\nSisimai on the same bounce:", *_sisimai(path), sep="\n  ")


def test_fail_forwarder_is_named_with_file_and_line(lab: LabRun) -> None:
    path = _only(lab, "fail_forwarder")
    res = run_cli("bounce", "--format", "json", "--root", str(lab.root), str(path))
    (r,) = res.json()["bounces"][0]["recipients"]
    assert (r["address"], r["reason"]) == ("gone@alice-shop.test", "userunknown")
    cause = r["local_cause"]
    assert cause["kind"] == "fail_forwarder"
    assert cause["file"] == "/etc/valiases/alice-shop.test"
    assert cause["line"] == _line_of(lab.root / "etc/valiases/alice-shop.test", "gone@alice-shop.test:")


def test_pipe_failure_gives_exit_code_and_meaning(lab: LabRun) -> None:
    b = _bounce(lab, _only(lab, "pipe_exit1"))
    (r,) = b.recipients
    assert r.address == "tickets@alice-shop.test"
    c = r.local_cause
    assert c is not None and c.kind == "pipe"
    assert c.detail["exit_code"] == 1  # from the main log: the bounce itself does not say
    assert c.detail["meaning"]
    assert "cannot connect to database" in str(c.detail["output"])


def test_pipe_that_only_prints_is_explained(lab: LabRun) -> None:
    b = _bounce(lab, _only(lab, "pipe_output"))
    (r,) = b.recipients
    c = r.local_cause
    assert c is not None and c.kind == "pipe_output"
    assert "PHP Warning" in str(c.detail["output"])


def test_remote_rejections_and_postfix_dsn(lab: LabRun) -> None:
    (r,) = _bounce(lab, _only(lab, "remote_user_unknown")).recipients
    assert (r.reason, r.status, r.smtp_code, r.command, r.remote_mta) == (
        "userunknown", "5.1.1", "550", "RCPT", "mx.remote.test"
    )
    (r,) = _bounce(lab, _only(lab, "remote_blocked_spam")).recipients
    assert (r.reason, r.status) == ("spamdetected", "5.7.1")
    (pf,) = lab.postfix_bounces
    (r,) = _bounce(lab, pf).recipients
    assert (r.address, r.reason, r.status) == ("nouser-pf@remote.test", "userunknown", "5.1.1")


SPF_BOUNCE = """\
From: Mail Delivery System <Mailer-Daemon@host.lab-hosting.test>
To: billing@spf-fail.test
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  info@alice-shop.test
    host mx.remote.test [192.0.2.20]
    SMTP error from remote mail server after RCPT TO:<info@alice-shop.test>:
    550 5.7.23 SPF: {ip} is not allowed to send mail from spf-fail.test

------ This is a copy of the message, including all the headers. ------

From: billing@spf-fail.test
To: info@alice-shop.test
Subject: Invoice
"""


def test_spf_rejection_is_handed_to_the_spf_evaluator(lab: LabRun, tmp_path: Path) -> None:
    """With the lab's DNS server named, the SPF rejection is evaluated; offline, the command is printed."""
    bounce = tmp_path / "spf.eml"
    bounce.write_text(SPF_BOUNCE.format(ip=lab.client_ip))
    exe = shutil.which("maildoctor")
    assert exe, "maildoctor is not installed"
    res = lab.run([exe, "bounce", "--dns-server", lab.dns_server, "--format", "json", str(bounce)],
                  capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 1, res.stderr
    (r,) = json.loads(res.stdout)["bounces"][0]["recipients"]
    assert r["reason"] == "authfailure"
    cause = r["local_cause"]
    assert cause["kind"] == "spf"
    assert cause["detail"]["ip"] == lab.client_ip and cause["detail"]["sender"] == "billing@spf-fail.test"
    assert cause["detail"]["spf_result"] == "fail"  # spf-fail.test is "v=spf1 ip4:203.0.113.99 -all"
    offline = run_cli("bounce", "--format", "json", str(bounce))
    cause = offline.json()["bounces"][0]["recipients"][0]["local_cause"]
    assert cause["fix"][0] == f"maildoctor spf check {lab.client_ip} billing@spf-fail.test"
    assert "spf_result" not in cause["detail"]
