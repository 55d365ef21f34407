"""The SPF doctor check on a small server root: log rejections offline, record lint online (stub DNS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildoctor.doctor import DoctorContext
from maildoctor.net.dns import ZoneResolver
from maildoctor.spf.checks import check_spf

MAINLOG = "\n".join([
    "2026-11-27 14:05:00 [63474] H=(bank-secure.example) [198.51.100.66]:55984 F=<security@bank.example> rejected "
    "RCPT <dr.lee@clinic.example>: SPF check failed: 198.51.100.66 is not allowed to send mail from bank.example "
    "(-all)",
    "2026-11-27 14:06:00 1tA2bC-0004Xy-Ab <= sales@myshop.example U=shop P=local S=900",
    "2026-11-27 14:06:02 1tA2bC-0004Xy-Ab ** bob@gmail.com F=<sales@myshop.example> R=dnslookup T=remote_smtp "
    "H=gmail-smtp-in.l.google.com [142.250.1.27]: SMTP error from remote mail server after end of data: 550-5.7.26 "
    "This mail has been blocked because the sender is unauthenticated. SPF [myshop.example] with ip: [203.0.113.5] "
    "= did not pass",
    "2026-11-27 14:07:00 1tA2bC-0004Xy-Ac Completed",
]) + "\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "localdomains").write_text("myshop.example\nclinic.example\n")
    (tmp_path / "var" / "log").mkdir(parents=True)
    (tmp_path / "var" / "log" / "exim_mainlog").write_text(MAINLOG)
    return tmp_path


def test_offline_reports_our_rejected_mail_and_incoming_rejections(root: Path) -> None:
    findings = check_spf(DoctorContext(root=root, offline=True))
    by_id = {f.id: f for f in findings}
    own = by_id["spf.log.own_domain_rejected"]
    assert own.subject == "myshop.example" and own.data["ip"] == "203.0.113.5"
    assert own.evidence[0].source == "/var/log/exim_mainlog" and own.evidence[0].line == 3
    assert any("spf build myshop.example" in step for step in own.fix)
    assert by_id["spf.log.incoming_rejected"].data["count"] == 1
    assert all(not f.id.startswith("spf.lint") for f in findings)  # offline: no DNS


def test_online_lints_the_local_domains(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zone = ZoneResolver({"myshop.example": [{"TXT": "v=spf1 +all"}],
                         "clinic.example": [{"TXT": "v=spf1 mx -all"}, {"MX": [10, "mx.clinic.example"]}],
                         "mx.clinic.example": [{"A": "192.0.2.25"}]})
    monkeypatch.setattr("maildoctor.net.dns.make_resolver", lambda *a, **k: zone)
    findings = check_spf(DoctorContext(root=root, offline=False))
    lint = [f for f in findings if f.id.startswith("spf.lint")]
    assert [(f.id, f.subject) for f in lint] == [("spf.lint.all_pass", "myshop.example")]


def test_root_without_logs_or_domains_has_nothing(tmp_path: Path) -> None:
    assert check_spf(DoctorContext(root=tmp_path, offline=False)) == []


def test_silent_dns_gives_one_unknown_not_a_long_wait(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zone = ZoneResolver({"myshop.example": ["TIMEOUT"], "clinic.example": ["TIMEOUT"]})
    monkeypatch.setattr("maildoctor.net.dns.make_resolver", lambda *a, **k: zone)
    findings = [f for f in check_spf(DoctorContext(root=root, offline=False)) if f.id.startswith("spf.lint")]
    assert [(f.id, f.severity.value) for f in findings] == [("spf.lint.could_not_run", "unknown")]
