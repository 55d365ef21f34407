"""`maildoctor headers`: the output contract, input forms and bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from headers_samples import DEFERRED_LOG, EXIM_ID

HEADERS = (
    "Received: from mx.example.org (mx.example.org [198.51.100.25]) by inbox.example.com (Postfix) with ESMTPS"
    " id 4F3D21234 for <bob@example.com>; Mon, 1 Jan 2024 13:00:04 +0000\n"
    f"Received: from laptop ([203.0.113.9]) by mx.example.org with esmtpsa (Exim 4.96) id {EXIM_ID};"
    " Mon, 1 Jan 2024 12:00:00 +0000\n"
    "Message-ID: <abc123@example.org>\nDate: Mon, 1 Jan 2024 11:59:59 +0000\nSubject: hello\n\nbody\n"
)
HOP_KEYS = {"index", "from", "by", "with", "id", "ip", "time", "delay_seconds", "skew"}


def test_json_document(tmp_path: Path, cli: Callable[..., Any]) -> None:
    eml = tmp_path / "m.eml"
    eml.write_text(HEADERS)
    res = cli("headers", str(eml), "--format", "json")
    assert res.code == 1, res.err  # a one-hour hop is a problem
    doc = res.json()
    assert doc["command"] == "headers"
    assert [h["index"] for h in doc["hops"]] == [1, 2]
    assert set(doc["hops"][0]) >= HOP_KEYS
    assert doc["hops"][0]["ip"] == "203.0.113.9" and doc["hops"][1]["delay_seconds"] == 3604.0
    assert doc["total_seconds"] == 3604.0 and doc["slowest_hop"] == 2
    assert doc["local"] is None and "authentication" in doc
    assert any(f["id"] == "headers.slow_hop" for f in doc["findings"])


def test_stdin_paste_text(cli: Callable[..., Any]) -> None:
    res = cli("headers", stdin=HEADERS.split("\n\n")[0] + "\n")
    assert res.code == 1
    assert "2 hops" in res.out and "mx.example.org" in res.out and "Hop 2 took 1 h" in res.out


def test_join_with_log(tmp_path: Path, cli: Callable[..., Any]) -> None:
    eml, log = tmp_path / "m.eml", tmp_path / "mainlog"
    eml.write_text(HEADERS)
    log.write_text(DEFERRED_LOG)
    res = cli("headers", str(eml), "--log", str(log), "--format", "json")
    doc = res.json()
    assert res.code == 1
    assert doc["local"]["matched_by"] == f"exim id {EXIM_ID}" and len(doc["local"]["deferrals"]) == 2
    assert doc["verdict"]["where"] == "on_our_server"
    text = cli("headers", str(eml), "--log", str(log))
    assert "The delay was on our server" in text.out and "Greylisted" in text.out


def test_root_reads_the_server_logs(tmp_path: Path, cli: Callable[..., Any]) -> None:
    (tmp_path / "var" / "log").mkdir(parents=True)
    (tmp_path / "var" / "log" / "exim_mainlog").write_text(DEFERRED_LOG)
    eml = tmp_path / "m.eml"
    eml.write_text(HEADERS)
    res = cli("headers", str(eml), "--root", str(tmp_path), "--format", "json")
    assert res.json()["verdict"]["where"] == "on_our_server"


def test_message_not_in_log(tmp_path: Path, cli: Callable[..., Any]) -> None:
    eml, log = tmp_path / "m.eml", tmp_path / "mainlog"
    eml.write_text(HEADERS)
    log.write_text("2024-01-01 12:00:00 1rSqqq-0001Qq-1Q <= x@example.org H=a [192.0.2.1] P=esmtp S=1 id=zz@x\n")
    doc = cli("headers", str(eml), "--log", str(log), "--format", "json").json()
    assert any(f["id"] == "headers.local_not_found" and f["severity"] == "unknown" for f in doc["findings"])


def test_bad_input(tmp_path: Path, cli: Callable[..., Any]) -> None:
    garbage = tmp_path / "g.bin"
    garbage.write_bytes(bytes(range(256)) * 20)
    for args, stdin in (
        (("headers", str(tmp_path / "missing.eml")), None),
        (("headers", str(garbage)), None),
        (("headers", str(tmp_path)), None),
        (("headers",), ""),
        (("headers", "--root", str(tmp_path)), HEADERS),
    ):
        res = cli(*args, stdin=stdin)
        assert res.code == 2, (args, res.out, res.err)
        assert len(res.err.strip().splitlines()) == 1 and "Traceback" not in res.err


def test_missing_log_still_prints(tmp_path: Path, cli: Callable[..., Any]) -> None:
    eml = tmp_path / "m.eml"
    eml.write_text(HEADERS)
    res = cli("headers", str(eml), "--log", str(tmp_path / "nolog"), "--format", "json")
    assert res.code == 2 and res.json()["hops"] and "nolog: no such file" in res.err


def test_stdin_cannot_be_headers_and_log(cli: Callable[..., Any]) -> None:
    res = cli("headers", "-", "--log", "-", stdin=HEADERS)
    assert res.code == 2 and "stdin cannot be both" in res.err
