"""Shared scoring of maildoctor bounce results against the Sisimai corpus expectations."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from maildoctor.bounce import Bounce, parse_bounce

SISIMAI_UNDISCLOSED = "undisclosed-recipient-in-headers@libsisimai.org.invalid"


@dataclass
class Score:
    records: int = 0
    reason_ok: int = 0
    recipient_ok: int = 0
    hard_records: int = 0
    hard_ok: int = 0
    accepted: int = 0  # records counted as agreeing because of a listed deliberate disagreement
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    misses: list[tuple[str, str, str, str]] = field(default_factory=list)  # file, recipient, expected, got

    @property
    def reason_rate(self) -> float:
        return self.reason_ok / self.records if self.records else 0.0

    @property
    def recipient_rate(self) -> float:
        return self.recipient_ok / self.records if self.records else 0.0

    def table(self, top: int = 40) -> str:
        lines = [f"{'expected':<16} {'got':<16} count"]
        for (exp, got), n in self.confusion.most_common(top):
            lines.append(f"{exp:<16} {got:<16} {n}")
        return "\n".join(lines)


def expected_rows(corpus: Path, prefix: str) -> list[dict[str, str]]:
    with open(corpus / "expected.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r for r in rows if r["file"].startswith(prefix) and not r["expected_reason"].startswith("(none")]


def _norm(addr: str) -> str:
    a = addr.strip().lower()
    return "" if a == SISIMAI_UNDISCLOSED else a


def score(corpus: Path, prefix: str, accepted: dict[str, str] | None = None) -> tuple[Score, dict[str, Bounce]]:
    """Score every labelled record under data/<prefix>; `accepted` maps file -> our deliberate reason."""
    rows = expected_rows(corpus, prefix)
    results: dict[str, Bounce] = {}
    for name in sorted({r["file"] for r in rows}):
        results[name] = parse_bounce((corpus / "data" / name).read_bytes(), name)
    sc = Score()
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_file[r["file"]].append(r)
    for name, exp_rows in by_file.items():
        got = results[name].recipients
        for i, r in enumerate(exp_rows):
            sc.records += 1
            want_addr = _norm(r["expected_recipient"])
            match = [g for g in got if _norm(g.address) == want_addr]
            if match:
                sc.recipient_ok += 1
            g = match[0] if match else (got[i] if i < len(got) else (got[0] if got else None))
            reason = g.reason if g else "-"
            if g is not None and r["expected_hardbounce"] in ("true", "false"):
                sc.hard_records += 1
                sc.hard_ok += (r["expected_hardbounce"] == "true") == g.hard
            want = r["expected_reason"]
            if accepted and accepted.get(name) == reason and want != reason:
                want = reason
                sc.accepted += 1
            if reason == want:
                sc.reason_ok += 1
            else:
                sc.confusion[(want, reason)] += 1
                sc.misses.append((name, want_addr, want, reason))
    return sc, results


@dataclass
class FluflScore:
    cases: int = 0
    ok: int = 0
    misses: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ok / self.cases if self.cases else 0.0


def flufl_rows(corpus: Path) -> list[dict[str, str]]:
    """The flufl.bounce expectations that apply to a whole-message classifier.

    Rows that test one flufl detector in isolation ("X detector must return nothing") say nothing
    about the message as a whole and are left out.
    """
    with open(corpus / "expected.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    positive = {r["file"] for r in rows if r["expected_addresses"].strip()}
    # "detector X finds nothing here" rows for a file another detector handles test that detector only
    return [
        r for r in rows
        if "must return nothing" not in r["detector"] and (r["expected_addresses"].strip() or r["file"] not in positive)
    ]


def flufl_match(b: Bounce, want: set[str]) -> bool:
    """Every expected address is a recipient we report (final or original), and we report no other."""
    rcpts = b.recipients if b.kind in ("failure", "delay") else ()
    either = {r.address.lower() for r in rcpts} | {r.original_recipient.lower() for r in rcpts if r.original_recipient}
    extra = [r for r in rcpts if r.address.lower() not in want and r.original_recipient.lower() not in want]
    return want <= either and not extra


def flufl_score(corpus: Path) -> FluflScore:
    """Set agreement: every expected address found (as final or original recipient), nothing extra."""
    sc = FluflScore()
    for r in flufl_rows(corpus):
        want = {a.lower() for a in r["expected_addresses"].split()}
        b = parse_bounce((corpus / "data" / r["file"]).read_bytes(), r["file"])
        sc.cases += 1
        if flufl_match(b, want):
            sc.ok += 1
        else:
            got = sorted(x.address.lower() for x in b.recipients) if b.kind in ("failure", "delay") else []
            sc.misses.append((r["file"], r["detector"], sorted(want), got))
    return sc
