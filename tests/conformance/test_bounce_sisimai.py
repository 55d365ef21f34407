"""Conformance: maildoctor bounce against the Sisimai corpus (reasons, recipients, newline twins, non-bounces).

The expected values are Sisimai's own (go-sisimai v5.2 test tables; recipients from a p5-sisimai
run). The test prints the agreement and a confusion table (expected -> ours) so every
disagreement is visible; deliberate disagreements are listed in DELIBERATE with the reason.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from bounce_corpus import score

from maildoctor.bounce import parse_bounce

pytestmark = pytest.mark.conformance

REASON_MIN = 0.95
RECIPIENT_MIN = 0.98

# file -> (our reason, why we disagree with the Sisimai label on purpose)
DELIBERATE: dict[str, tuple[str, str]] = {
    "maildir/bsd/lhost-ezweb-02.eml": (
        "userunknown",
        "the remote said '550 user unknown (in reply to RCPT TO command)'; Sisimai's EZweb rule says suspend",
    ),
    "maildir/bsd/lhost-powermta-01.eml": (
        "userunknown",
        "'550 5.2.1 <addr>... User Unknown' at RCPT (PowerMTA category bad-mailbox); Sisimai says suspend",
    ),
    "maildir/bsd/lhost-powermta-03.eml": (
        "userunknown", "same text and category as lhost-powermta-01; Sisimai says suspend"
    ),
    "maildir/bsd/rfc3464-01.eml": (
        "userunknown",
        "Status 5.1.1 and '550 5.1.1 <addr>... User Unknown'; nothing in the file supports the label mailboxfull",
    ),
}


def _sisimai(corpora: Path) -> Path:
    return corpora / "sisimai-set-of-emails"


def test_reason_and_recipient_agreement(corpora: Path) -> None:
    accepted = {f: reason for f, (reason, _) in DELIBERATE.items()}
    sc, _ = score(_sisimai(corpora), "maildir/bsd", accepted)
    print(f"\nSisimai maildir/bsd: {sc.records} labelled records")
    print(f"reason agreement    {sc.reason_ok}/{sc.records} = {sc.reason_rate:.1%} "
          f"({sc.reason_ok - sc.accepted} without the {sc.accepted} deliberate disagreements listed in DELIBERATE)")
    print(f"recipient agreement {sc.recipient_ok}/{sc.records} = {sc.recipient_rate:.1%}")
    print(f"hard/soft agreement {sc.hard_ok}/{sc.hard_records} (where Sisimai states it)")
    print(sc.table(60))
    for f, want, got in [(m[0], m[2], m[3]) for m in sc.misses]:
        print(f"  {f}: expected {want}, got {got}")
    assert sc.records >= 600
    assert sc.reason_rate >= REASON_MIN
    assert (sc.reason_ok - sc.accepted) / sc.records >= REASON_MIN  # holds even without the deliberate ones
    assert sc.recipient_rate >= RECIPIENT_MIN


def _twins(corpora: Path) -> list[tuple[str, str]]:
    """(dos-or-mac file, its LF twin) from the corpus' own newline-normalised mapping."""
    out = []
    with open(_sisimai(corpora) / "expected_detailed.tsv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            m = row["sample_mapping"]
            if row["file"].startswith(("maildir/dos/", "maildir/mac/")) and m.startswith("same-as:"):
                out.append((row["file"], m.removeprefix("same-as:").split(" ")[0]))
    return sorted(set(out))


def _signature(raw: bytes) -> tuple[object, ...]:
    b = parse_bounce(raw)
    rcpts = tuple((r.address, r.reason, r.status, r.smtp_code, r.diagnostic, r.hard) for r in b.recipients)
    return (b.kind, b.agent, b.original_message_id, rcpts)


def test_crlf_and_cr_copies_match_their_lf_twins(corpora: Path) -> None:
    data = _sisimai(corpora) / "data"
    pairs = _twins(corpora)
    assert len(pairs) >= 100
    different = [a for a, b in pairs if _signature((data / a).read_bytes()) != _signature((data / b).read_bytes())]
    assert different == []


def test_not_a_bounce_samples(corpora: Path) -> None:
    data = _sisimai(corpora) / "data" / "maildir" / "not"
    kinds = {p.name: parse_bounce(p.read_bytes()).kind for p in sorted(data.glob("*.eml"))}
    assert kinds["is-not-bounce-01.eml"] == "not_bounce"
    assert kinds["is-not-bounce-02.eml"] == "not_bounce"
    # Deliberate: rb-issue-368-bug.eml is labelled "not a bounce" (it only crashed an old Sisimai),
    # but it is a real mailbox-full rejection ("reject reason: Mailbox full", "target mail address").
    b = parse_bounce((data / "rb-issue-368-bug.eml").read_bytes())
    assert b.kind == "failure"
    assert [(r.address, r.reason) for r in b.recipients] == [("xxxx@yyyyyy.net", "mailboxfull")]
