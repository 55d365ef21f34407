"""Knowledge as data: the reason taxonomy, the phrase rules and the message tables agree."""

from __future__ import annotations

from pathlib import Path

from maildoctor import kb
from maildoctor.bounce.reason import taxonomy
from maildoctor.doctor import DoctorContext
from tests.conftest import run_cli

SISIMAI_REASONS = {
    "authfailure", "badreputation", "blocked", "contenterror", "delivered", "exceedlimit", "expired",
    "failedstarttls", "feedback", "filtered", "hasmoved", "hostunknown", "mailboxfull", "mailererror",
    "mesgtoobig", "networkerror", "norelaying", "notaccept", "notcompliantrfc", "onhold", "policyviolation",
    "rejected", "requireptr", "securityerror", "spamdetected", "speeding", "suppressed", "suspend",
    "syntaxerror", "systemerror", "systemfull", "toomanyconn", "undefined", "userunknown", "vacation",
    "virusdetected",
}  # fmt: skip


def test_taxonomy_is_sisimais_reason_list_one_to_one() -> None:
    tax = taxonomy()
    assert set(tax) == SISIMAI_REASONS
    assert all(e["sisimai"] == name for name, e in tax.items())
    assert {n for n, e in tax.items() if e["hard"]} == {"userunknown", "hostunknown", "hasmoved", "notaccept"}


def test_every_reason_in_the_tables_is_in_the_taxonomy() -> None:
    used = {str(e["reason"]) for name in ("bounce_reasons", "bounce_messages", "bounce_status") for e in kb.load(name)}
    assert used <= set(taxonomy())


def test_reasons_cli_lists_the_taxonomy() -> None:
    res = run_cli("bounce", "--reasons", "--format", "json")
    assert res.code == 0
    assert {r["reason"] for r in res.json()["reasons"]} == SISIMAI_REASONS


def test_doctor_check_reads_the_demo_samples() -> None:
    from maildoctor.bounce.checks import check_bounces
    from maildoctor.demo import demo_root

    findings = check_bounces(DoctorContext(root=demo_root(), offline=True))
    ids = {f.id for f in findings}
    assert {"bounce.cause.default_fail", "bounce.cause.pipe", "bounce.cause.spf"} <= ids
    assert "bounce.cause.deferral" in ids
    # recipients explained by a local cause are not repeated in a per-reason finding
    assert not {"bounce.failure.userunknown", "bounce.failure.mailererror", "bounce.delay.expired"} & ids


def test_doctor_check_is_silent_on_an_empty_root(tmp_path: Path) -> None:
    from maildoctor.bounce.checks import check_bounces

    assert check_bounces(DoctorContext(root=tmp_path, offline=True)) == []
