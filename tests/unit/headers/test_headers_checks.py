"""The doctor check over saved header samples."""

from __future__ import annotations

from pathlib import Path

from headers_samples import DEFERRED_LOG, EXIM_ID

from maildoctor.demo import demo_root
from maildoctor.doctor import DoctorContext
from maildoctor.headers.checks import check_header_samples

SAMPLE = (
    "Received: from mx.example.org (mx.example.org [198.51.100.25]) by inbox.example.com (Postfix) with ESMTPS"
    " id 4F3D21234; Mon, 1 Jan 2024 13:00:04 +0000\n"
    f"Received: from laptop ([203.0.113.9]) by mx.example.org with esmtpsa (Exim 4.96) id {EXIM_ID};"
    " Mon, 1 Jan 2024 12:00:00 +0000\nMessage-ID: <abc123@example.org>\n\n"
)


def test_no_samples_no_findings(tmp_path: Path) -> None:
    assert check_header_samples(DoctorContext(tmp_path, offline=True)) == []


def test_sample_joined_with_root_log(tmp_path: Path) -> None:
    (tmp_path / "demo-samples" / "headers").mkdir(parents=True)
    (tmp_path / "demo-samples" / "headers" / "late.eml").write_text(SAMPLE)
    (tmp_path / "demo-samples" / "headers" / "notes.doc").write_text("ignored")
    (tmp_path / "var" / "log").mkdir(parents=True)
    (tmp_path / "var" / "log" / "exim_mainlog").write_text(DEFERRED_LOG)
    findings = check_header_samples(DoctorContext(tmp_path, offline=True))
    assert [f.id for f in findings] == ["headers.verdict"]
    assert findings[0].severity.value == "warning" and "late.eml" in findings[0].title
    assert findings[0].subject.endswith("late.eml")


def test_sample_without_log_reports_the_slow_hop(tmp_path: Path) -> None:
    (tmp_path / "demo-samples" / "headers").mkdir(parents=True)
    (tmp_path / "demo-samples" / "headers" / "late.txt").write_text(SAMPLE)
    findings = check_header_samples(DoctorContext(tmp_path, offline=True))
    assert [f.id for f in findings] == ["headers.slow_hop"]


def test_demo_sample_places_the_delay_on_our_server() -> None:
    findings = check_header_samples(DoctorContext(demo_root(), offline=True))
    verdicts = [f for f in findings if f.id == "headers.verdict"]
    assert verdicts and verdicts[0].data["where"] == "on_our_server"
    assert "Greylisted" in verdicts[0].explanation
