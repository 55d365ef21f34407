"""Postfix corpora: msimerson/postfix-parser expected field dicts and lightmeter's scenario logs."""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from maildoctor.logs.events import EventKind, LogEvent
from maildoctor.logs.postfix import parse_line, parse_message
from maildoctor.logs.read import LogReader

pytestmark = pytest.mark.conformance

# Keys of msimerson's dicts that are that library's own free-text summaries (its "msg" split, its
# "action" guess, anvil/scache "statistics", the postscreen verdict), not fields of the log line.
FREE_TEXT = {"msg", "action", "statistics", "postscreen"}


def _ours(ev: LogEvent, key: str) -> Any:
    hostip = f"{ev.remote_host}[{ev.remote_ip}]" if ev.remote_ip else None
    if key == "date":
        return f"{ev.time:%b} {ev.time.day} {ev.time:%H:%M:%S}" if ev.time else None
    if key == "status" and ev.extra.get("forwarded_as"):
        return "forwarded"  # upstream splits "sent (forwarded as ID)" into status + forwardedAs
    return {
        "host": ev.host if key == "host" and ev.host else hostip,
        "prog": ev.program,
        "pid": str(ev.pid) if ev.pid else None,
        "qid": ev.message_id,
        "to": ev.recipient,
        "orig_to": ev.original_recipient,
        "from": ev.sender if ev.sender is not None else ev.extra.get("from"),
        "relay": ev.extra.get("relay"),
        "delay": ev.extra.get("delay"),
        "delays": ev.delays,
        "dsn": ev.enhanced_status,
        "status": ev.extra.get("status"),
        "size": str(ev.size) if ev.size is not None else None,
        "nrcpt": str(ev.nrcpt) if ev.nrcpt is not None else None,
        "message-id": ev.header_message_id,
        "resent-message-id": ev.extra.get("resent-message-id"),
        "client": hostip,
        "sasl_username": ev.auth_id,
        "sasl_method": ev.extra.get("sasl_method"),
        "uid": ev.local_user,
        "conn_use": ev.extra.get("conn_use"),
        "dsnQid": ev.extra.get("bounce_id"),
        "forwardedAs": ev.extra.get("forwarded_as"),
        "mx": f"{hostip}:{ev.remote_port}" if hostip and ev.remote_port else hostip,
        "err": ev.extra.get("error"),
    }[key]


def _norm(key: str, value: str) -> str:
    return " ".join(value.split()) if key == "date" else value


def test_msimerson_expected_fields(corpora: Path) -> None:
    doc = json.loads((corpora / "postfix-parser-msimerson" / "expected.json").read_text())
    compared = skipped = 0
    wrong = []
    for section in ("syslogLines", "postfixLines"):
        for case in doc[section]:
            line, obj = case["line"], case.get("obj")
            if section == "syslogLines" or case.get("type") == "syslog":
                ev = parse_line(line, year=2015)
            else:
                ev = parse_message(case["type"], line)
            if not obj:
                continue
            if (section == "syslogLines" or case.get("type") == "syslog") and "msg" in obj and "qid" not in obj:
                # upstream leaves the message unparsed for these; parse it like a postfix line
                obj = {k: v for k, v in obj.items() if k != "msg"}
            for key, want in obj.items():
                if key in FREE_TEXT:
                    skipped += 1
                    continue
                got = _ours(ev, key)
                compared += 1
                if got != _norm(key, want) and _norm(key, want) != _norm(key, str(got)):
                    wrong.append((case.get("desc") or case.get("name"), key, want, got))
    print(f"\nmsimerson: {compared} fields compared, {len(wrong)} differ, {skipped} free-text summaries not compared")
    for w in wrong:
        print("  ", w)
    assert compared >= 200
    assert not wrong


def test_msimerson_non_postfix_lines_are_not_postfix_events(corpora: Path) -> None:
    doc = json.loads((corpora / "postfix-parser-msimerson" / "expected.json").read_text())
    for case in doc["syslogLines"]:
        ev = parse_line(case["line"])
        if case.get("obj") is None and case["line"].startswith("Jul  5 06:52:01 prd-mx1 spamd"):
            assert ev.kind is EventKind.OTHER and ev.message_id is None


def test_lightmeter_logs_recognised_and_statuses_match(corpora: Path) -> None:
    base = corpora / "postfix-logs-lightmeter"
    files = sorted((base / "individual_files").iterdir())
    reader = LogReader(files)
    events = list(reader)
    assert not reader.problems
    kinds = Counter(e.kind for e in events)
    unknown = [e for e in events if e.kind is EventKind.UNKNOWN]
    share = len(unknown) / len(events)
    print(f"\nlightmeter: {len(events)} lines, unknown {share:.2%}; " + ", ".join(f"{k.value}={v}" for k, v in
                                                                          kinds.most_common()))
    for e in unknown:
        print("  unknown:", e.location(), e.raw[:120])
    assert share <= 0.01
    # Every status= line of the derived table: same queue id, recipient, relay, delays, dsn, status, text.
    by_loc = {(Path(e.source).name, e.line_no): e for e in events}
    rows = list(csv.DictReader((base / "delivery_lines_derived.tsv").open(), delimiter="\t", quoting=csv.QUOTE_NONE))
    status_kind = {"sent": EventKind.DELIVERY, "deferred": EventKind.DEFERRAL, "bounced": EventKind.FAILURE}
    wrong = []
    for row in rows:
        ev = by_loc[(row["file"], int(row["line_no"]))]
        got = {
            "queue_id": ev.message_id, "to": ev.recipient, "orig_to": ev.original_recipient or "",
            "relay": ev.extra.get("relay"), "delay": ev.extra.get("delay"), "delays": ev.delays,
            "dsn": ev.enhanced_status, "status_text": ev.diagnostic, "process": ev.program,
            "syslog_time": f"{ev.time:%b} {ev.time.day:>2} {ev.time:%H:%M:%S}" if ev.time else None,
        }
        for key, value in got.items():
            if row[key] != value:
                wrong.append((row["file"], row["line_no"], key, row[key], value))
        if ev.kind is not status_kind[row["status"]]:
            wrong.append((row["file"], row["line_no"], "status", row["status"], ev.kind))
    print(f"lightmeter: {len(rows)} status= lines x 11 fields, {len(wrong)} differ")
    for w in wrong[:10]:
        print("  ", w)
    assert len(rows) == 169
    assert not wrong


def test_lightmeter_rotated_set_in_time_order(corpora: Path, tmp_path: Path) -> None:
    """The real rotated set (mail.log.1, mail.log; mail.warn.N.gz ...) is read oldest first."""
    import tarfile

    from maildoctor.logs.read import default_log_paths, iter_events

    with tarfile.open(corpora / "postfix-logs-lightmeter" / "complete.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    logdir = tmp_path / "var" / "log"
    logdir.parent.mkdir(parents=True)
    (tmp_path / "logs_sample").rename(logdir)
    paths = default_log_paths(tmp_path)
    assert [p.name for p in paths] == ["mail.log.1", "mail.log"]
    problems: list = []
    events = list(iter_events(paths, problems=problems))
    assert not problems
    times = [e.time for e in events if e.time is not None]
    backwards = sum(1 for a, b in itertools.pairwise(times) if b < a)
    kinds = Counter(e.kind for e in events)
    print(f"\nlightmeter complete set: {len(events)} lines, unknown {kinds[EventKind.UNKNOWN] / len(events):.3%}, "
          f"{backwards} steps back in time")
    assert backwards == 0
    assert kinds[EventKind.UNKNOWN] / len(events) <= 0.01
    warn = [p for p in (tmp_path / "var" / "log").iterdir() if p.name.startswith("mail.warn")]
    from maildoctor.logs.read import order_rotated

    assert [p.name for p in order_rotated(warn)] == [
        "mail.warn.4.gz", "mail.warn.3.gz", "mail.warn.2.gz", "mail.warn.1", "mail.warn"]
