"""Exim log corpora: the Exim test suite's main/reject/panic logs and the logstash field expectations."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from maildoctor.logs.events import EventKind
from maildoctor.logs.exim import parse_line
from maildoctor.logs.read import LogReader

pytestmark = pytest.mark.conformance

# The Exim test harness appends the transcript of its fake SMTP/LMTP server to some logs after
# this marker; those lines are test-harness output, not Exim log lines.
SERVER_MARKER = "******** SERVER ********"


# Other test-harness output mixed into a few logs: the LMTP simulator's transcript (tests 5100-5103:
# "<<< LHLO", "250 OK", bare command names), notes added by the harness ("**NOTE: ...") and text a
# test's filter writes to the log file (test 4144). Counted and reported, but not Exim log lines.
HARNESS = re.compile(
    r"^(?:<<< |<<<$|\*\*NOTE|\d{3}[ -]|[A-Z]{4}$|MAIL FROM$|RCPT TO$|Filter entered: |No prefix or suffix)"
)


def _exim_lines(folder: Path) -> tuple[list[tuple[str, int, str]], int]:
    out = []
    harness = 0
    for path in sorted(folder.iterdir()):
        for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if line.startswith(SERVER_MARKER):
                break
            if HARNESS.match(line):
                harness += 1
            elif line.strip():
                out.append((path.name, no, line))
    return out, harness


@pytest.mark.parametrize("sub", ["log", "rejectlog", "paniclog"])
def test_testsuite_lines_are_recognised(corpora: Path, sub: str) -> None:
    lines, harness = _exim_lines(corpora / "exim-testsuite-logs" / sub)
    kinds = Counter()
    unknown = []
    for name, no, line in lines:
        ev = parse_line(line)
        kinds[ev.kind] += 1
        if ev.kind is EventKind.UNKNOWN:
            unknown.append(f"{name}:{no}: {line[:120]}")
    total = len(lines)
    share_unknown = len(unknown) / total
    specific = 1 - (kinds[EventKind.UNKNOWN] + kinds[EventKind.OTHER] + kinds[EventKind.CONTINUATION]) / total
    print(f"\n{sub}: {harness} test-harness lines set aside (test-harness output, not Exim log lines)")
    print(f"{sub}: {total} lines, unknown {share_unknown:.2%}, classified as a specific kind {specific:.2%}")
    print("  " + ", ".join(f"{k.value}={v}" for k, v in kinds.most_common()))
    for u in unknown[:10]:
        print("  unknown:", u)
    assert total > 0
    assert share_unknown <= 0.01, unknown[:20]


def test_testsuite_flags_match_line_kinds_table(corpora: Path) -> None:
    """Per-file counts of <= => -> >> *> ** == and Completed agree with the derived line_kinds.tsv."""
    base = corpora / "exim-testsuite-logs"
    flag_kind = {"<=": EventKind.ARRIVAL, "=>": EventKind.DELIVERY, "->": EventKind.ADDITIONAL,
                 ">>": EventKind.CUTTHROUGH, "*>": EventKind.SUPPRESSED, "**": EventKind.FAILURE,
                 "Completed": EventKind.COMPLETED}
    mismatches = []
    rows = list(csv.DictReader((base / "line_kinds.tsv").open(), delimiter="\t"))
    for row in rows:
        path = base / row["file"]
        if not path.is_file():
            continue
        counts: Counter[EventKind] = Counter()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            counts[parse_line(line).kind] += 1
        for flag, kind in flag_kind.items():
            if int(row[flag]) != counts[kind]:
                mismatches.append((row["file"], flag, int(row[flag]), counts[kind]))
        # == lines are deferrals or "retry time not reached" skips, both from the same flag
        deferrals = counts[EventKind.DEFERRAL] + counts[EventKind.RETRY_NOT_REACHED]
        if int(row["=="]) != deferrals:
            mismatches.append((row["file"], "==", int(row["=="]), deferrals))
    checked = len(rows) * (len(flag_kind) + 1)
    print(f"\nline_kinds.tsv: {checked} counts checked, {len(mismatches)} differ")
    for m in mismatches[:15]:
        print("  ", m)
    assert rows
    assert len(mismatches) / checked <= 0.01, mismatches[:20]


def test_logstash_expectations(corpora: Path) -> None:
    rows = list(csv.DictReader((corpora / "exim-logline-expectations-logstash" / "expected.tsv").open(),
                               delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 6
    checked = 0
    for row in rows:
        ev = parse_line(row["log_line"])
        assert ev.kind is not EventKind.UNKNOWN
        want = {
            "timestamp": ev.time.strftime("%Y-%m-%d %H:%M:%S") if ev.time else "",
            "pid": str(ev.pid or ""),
            "msgid": ev.message_id or "",
            "sender": ev.sender or "",
            "remote_hostname": ev.remote_host or "",
            "remote_heloname": ev.helo or "",
            "remote_ip": ev.remote_ip or "",
            "remote_port": str(ev.remote_port or ""),
            "protocol": ev.protocol or "",
            "size": str(ev.size or ""),
            "header_id": ev.header_message_id or "",
            # the table keeps the subject as logged (with backslash escapes)
            "subject": (ev.subject or "").replace('"', '\\"'),
            "interface": ev.extra.get("interface", ""),
            "recipient": ev.recipient if ev.kind is EventKind.ARRIVAL and ev.recipient else "",
        }
        for key, got in want.items():
            expected = row[f"expected_{key}"]
            if expected:
                assert got == expected, (row["context"], key, got, expected)
                checked += 1
        if row["expected_flags"]:
            assert ev.kind is EventKind.ARRIVAL
        if "**" in row["log_line"]:
            assert ev.kind is EventKind.FAILURE and ev.recipient == "admin@example.net"
            assert ev.router == "virtual_aliases" and ev.diagnostic == "No such person at this address."
    print(f"\nlogstash: {checked} expected fields, all equal")
    assert checked >= 50


def test_eximstats_case_counts(corpora: Path) -> None:
    """The eximstats test case input: 3 messages received and 5 deliveries (upstream's expected output)."""
    case = corpora / "exim-testsuite-logs" / "eximstats-case-0551"
    expected = (case / "expected-stdout").read_text()
    reader = LogReader([case / "mainlog-input"])
    kinds = Counter(e.kind for e in reader)
    assert not reader.problems
    assert "Received               nnn          3" in expected
    assert "Delivered              nnn          5" in expected
    assert kinds[EventKind.ARRIVAL] == 3
    assert kinds[EventKind.DELIVERY] + kinds[EventKind.ADDITIONAL] + kinds[EventKind.CUTTHROUGH] == 5
