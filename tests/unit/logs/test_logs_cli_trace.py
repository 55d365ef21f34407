# ruff: noqa: E501  (real log lines are long)
"""`maildoctor trace`: output contract, exit codes, bad input, and the doctor check."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from maildoctor.doctor import DoctorContext
from maildoctor.logs.checks import analyze_events, check_mail_log
from maildoctor.logs.read import iter_events

ID = "1tA2bC-0004Xy-Ab"
BOUNCE = "1tA2bD-00000001AbC-0Xy1"
LOG = f"""2026-11-25 09:59:59 cwd=/home/shop/public_html/contact 3 args: /usr/sbin/sendmail -t -i
2026-11-25 10:00:00 {ID} <= shop@server.example U=shop P=local S=900 id=m1@server.example T="Order" for bad@x.example ok@y.example
2026-11-25 10:00:01 {ID} => ok@y.example R=dkim_lookuphost T=dkim_remote_smtp H=mx.y.example [192.0.2.2] C="250 OK"
2026-11-25 10:00:01 {ID} ** bad@x.example R=dkim_lookuphost T=dkim_remote_smtp H=mx.x.example [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<bad@x.example>: 550 5.1.1 user unknown
2026-11-25 10:00:02 {BOUNCE} <= <> R={ID} U=mailnull P=local S=1800 T="Mail delivery failed: returning message to sender" for shop@server.example
2026-11-25 10:00:02 {ID} Completed
2026-11-25 10:00:03 {BOUNCE} => shop <shop@server.example> R=localuser T=local_delivery
2026-11-25 10:00:03 {BOUNCE} Completed
"""


def _log(tmp_path: Path) -> Path:
    p = tmp_path / "exim_mainlog"
    p.write_text(LOG)
    return p


def test_json_contract(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("trace", ID, "--log", str(_log(tmp_path)), "--format", "json")
    assert r.code == 1, r.err  # a failed recipient is a problem
    doc = r.json()
    assert doc["command"] == "trace" and doc["query_kind"] == "exim_id"
    first, bounce = doc["messages"]
    assert first["id"] == ID and first["final_status"] == "partial" and first["message_id"] == "m1@server.example"
    assert first["source"]["kind"] == "script" and first["source"]["script_path"] == "/home/shop/public_html/contact"
    rc = {x["address"]: x for x in first["recipients"]}
    assert rc["ok@y.example"]["status"] == "delivered" and rc["bad@x.example"]["status"] == "failed"
    assert rc["bad@x.example"]["attempts"] == 1 and "550 5.1.1" in rc["bad@x.example"]["last_response"]
    assert rc["bad@x.example"]["explanation"]["id"] == "user-unknown"
    assert first["related"] == [BOUNCE] and first["queue_seconds"] == 2.0
    assert [e["line"] for e in first["evidence"]] == [1, 2, 3, 4, 6]
    assert bounce["id"] == BOUNCE and bounce["is_bounce"] and bounce["final_status"] == "delivered"


def test_text_story_and_address_query(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("trace", "Bad@X.example", "--log", str(_log(tmp_path)))
    assert r.code == 1
    assert f"Message {ID}" in r.out and "a script in /home/shop/public_html/contact" in r.out
    assert "FAILED after 1 attempt" in r.out and "meaning:" in r.out and "exim_mainlog:4" in r.out


def test_not_found_and_time_window(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    log = str(_log(tmp_path))
    r = cli("trace", "1zzzzz-0000zz-zz", "--log", log, "--format", "json")
    assert r.code == 0 and r.json()["messages"] == []
    r = cli("trace", ID, "--log", log, "--since", "2026-11-25 10:00:02", "--format", "json")
    msg = next(m for m in r.json()["messages"] if m["id"] == ID)
    assert msg["received_at"] is None and [e["line"] for e in msg["evidence"]] == [6]


def test_bad_inputs_exit_2_and_still_print(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    good = _log(tmp_path)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(4000))
    cut = tmp_path / "old.gz"
    data = gzip.compress((LOG * 3000).encode())
    cut.write_bytes(data[: len(data) // 2])
    r = cli("trace", ID, "--log", str(good), "--log", str(garbage), "--log", str(cut), "--log", str(tmp_path / "nope"),
            "--log", str(tmp_path), "--format", "json")
    assert r.code == 2
    assert len(r.json()["messages"]) == 2
    assert "garbage: binary data" in r.err and "old.gz: compressed file is truncated" in r.err
    assert "nope: No such file or directory" in r.err and "Is a directory" in r.err
    assert "Traceback" not in r.err


def test_bad_query_and_no_logs(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("trace", "not an id", "--log", str(_log(tmp_path)))
    assert r.code == 2 and "not an Exim message id" in r.err and r.err.count("\n") == 1
    r = cli("trace", ID, "--root", str(tmp_path))
    assert r.code == 2 and "no mail log found" in r.err
    r = cli("trace", ID, "--log", str(_log(tmp_path)), "--since", "yesterday-ish")
    assert r.code == 2 and "cannot read time" in r.err


def test_default_logs_under_root(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "var" / "log").mkdir(parents=True)
    (tmp_path / "var" / "log" / "exim_mainlog").write_text(LOG)
    r = cli("trace", ID, "--root", str(tmp_path), "--format", "json")
    assert r.json()["files"] == [str(tmp_path / "var" / "log" / "exim_mainlog")]


def test_doctor_check_stuck_and_frozen(tmp_path: Path) -> None:
    stuck = "1tA2bE-0004Xy-Ab"
    lines = [f"2026-11-20 10:00:00 {stuck} <= a@client.tld H=(x) [192.0.2.9] P=esmtpa A=login:a@client.tld S=1 "
             "for r@slow.example"]
    for h in range(0, 50, 6):
        lines.append(f"2026-11-{20 + h // 24:02d} {h % 24:02d}:30:00 {stuck} == r@slow.example R=dnslookup "
                     "T=remote_smtp defer (110): Connection timed out")
    lines.append(f"2026-11-22 12:00:00 {BOUNCE} Frozen (delivery error message)")
    (tmp_path / "var" / "log").mkdir(parents=True)
    (tmp_path / "var" / "log" / "exim_mainlog").write_text("\n".join(lines) + "\n")
    found = {f.id: f for f in check_mail_log(DoctorContext(root=tmp_path))}
    assert found["logs.stuck_in_retry"].subject == stuck
    assert found["logs.stuck_in_retry"].evidence[0].line == 2
    assert found["logs.frozen"].subject == BOUNCE
    # a message that completes is not stuck
    ok = analyze_events(iter_events([_log(tmp_path)]))
    assert ok == []
    assert check_mail_log(DoctorContext(root=tmp_path / "empty")) == []


def test_message_spanning_a_rotated_set(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    lines = LOG.splitlines(keepends=True)
    logdir = tmp_path / "var" / "log"
    logdir.mkdir(parents=True)
    (logdir / "exim_mainlog-20261125.gz").write_bytes(gzip.compress("".join(lines[:4]).encode()))
    (logdir / "exim_mainlog").write_text("".join(lines[4:]))
    doc = cli("trace", ID, "--root", str(tmp_path), "--format", "json").json()
    first = next(m for m in doc["messages"] if m["id"] == ID)
    assert [(Path(e["source"]).name, e["line"]) for e in first["evidence"]] == [
        ("exim_mainlog-20261125.gz", 1), ("exim_mainlog-20261125.gz", 2), ("exim_mainlog-20261125.gz", 3),
        ("exim_mainlog-20261125.gz", 4), ("exim_mainlog", 2)]
    assert first["final_status"] == "partial" and first["related"] == [BOUNCE]
    by_addr = cli("trace", "shop@server.example", "--root", str(tmp_path), "--format", "json").json()
    assert {m["id"] for m in by_addr["messages"]} == {ID, BOUNCE}


def test_hostile_giant_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A 20 MB line without a newline neither hides the real lines nor blows up memory or time."""
    blob = "X" * (20 * 1024 * 1024)
    plain = tmp_path / "exim_mainlog"
    plain.write_text(LOG + blob + "\n" + LOG.replace(ID, "1tA2bC-0004Xy-Zz"))
    packed = tmp_path / "old.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for log in (plain, packed):
        r = cli("trace", ID, "--log", str(log), "--format", "json")
        assert r.code == 1, r.err
        assert [m["id"] for m in r.json()["messages"]] == [ID, BOUNCE]
        r = cli("trace", "1tA2bC-0004Xy-Zz", "--log", str(log), "--format", "json")
        assert r.json()["messages"][0]["evidence"][0]["line"] == 10  # 8 lines, the giant one, then ours
    events = list(iter_events([plain]))
    assert len(events) == 17 and max(len(e.raw) for e in events) <= 64 * 1024
