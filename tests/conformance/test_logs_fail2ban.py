"""fail2ban's real Exim and Postfix log lines: client IP and time of every line it annotates."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from maildoctor.logs import exim, postfix
from maildoctor.logs.events import EventKind

pytestmark = pytest.mark.conformance

FILES = {"exim": exim.parse_line, "exim-spam": exim.parse_line, "postfix": postfix.parse_line}


def test_fail2ban_ip_and_time(corpora: Path) -> None:
    base = corpora / "fail2ban-mail-logs"
    rows = [r for r in csv.DictReader((base / "expected.tsv").open(), delimiter="\t", quoting=csv.QUOTE_NONE)
            if r["file"] in FILES]
    ip_checked = time_checked = 0
    wrong = []
    for r in rows:
        line = r["log_line"]
        year = int(r["expected_time"][:4]) if r["expected_time"] else None
        ev = FILES[r["file"]](line, year)
        assert ev.kind is not EventKind.UNKNOWN, line
        if r["expected_host"]:
            ip_checked += 1
            if ev.remote_ip != r["expected_host"]:
                wrong.append((r["file"], r["line_no"], "ip", r["expected_host"], ev.remote_ip, line[:100]))
        if r["expected_time"]:
            time_checked += 1
            # Classic syslog lines carry no year: fail2ban's table states it, so it is passed in.
            want = dt.datetime.strptime(r["expected_time"][:19], "%Y-%m-%dT%H:%M:%S")  # tolerates "2005-03-7"
            got = ev.time.replace(tzinfo=None) if ev.time else None
            if got != want:
                wrong.append((r["file"], r["line_no"], "time", r["expected_time"], got, line[:100]))
    print(f"\nfail2ban: {len(rows)} annotated exim/postfix lines, {ip_checked} IPs and {time_checked} times "
          f"compared, {len(wrong)} differ")
    for w in wrong:
        print("  ", w)
    assert ip_checked > 80 and time_checked > 80
    assert not wrong


def test_fail2ban_whole_files_recognised(corpora: Path) -> None:
    base = corpora / "fail2ban-mail-logs" / "logs"
    for name, parse in FILES.items():
        lines = [x for x in (base / name).read_text(encoding="utf-8", errors="replace").splitlines()
                 if x.strip() and not x.startswith("#")]
        kinds = Counter(parse(x).kind for x in lines)
        share = kinds[EventKind.UNKNOWN] / len(lines)
        print(f"\n{name}: {len(lines)} lines, unknown {share:.2%}: " + ", ".join(
            f"{k.value}={v}" for k, v in kinds.most_common()))
        assert share <= 0.01
