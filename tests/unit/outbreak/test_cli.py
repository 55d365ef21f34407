"""`maildoctor outbreak` and `maildoctor queue` on the demo server and on copies of it."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from maildoctor.demo import demo_root

DEMO = demo_root()
SCRIPT = "/home/shopuser/public_html/wp-content/uploads/2026/11"


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("server")
    for rel in ("var/log", "var/spool/exim", "etc"):
        shutil.copytree(DEMO / rel, root / rel)
    return root


def _fake_exim(tmp_path: Path) -> tuple[Path, Path]:
    record = tmp_path / "exim-calls.txt"
    exe = tmp_path / "fake-exim"
    exe.write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe, record


def test_outbreak_json_on_demo(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("outbreak", "--root", str(DEMO), "--format", "json")
    assert res.code == 1, res.err
    doc = res.json()
    suspects = doc["suspects"]
    scores = [s["score"] for s in suspects]
    assert scores == sorted(scores, reverse=True)
    top = suspects[0]
    assert top["source"] == {"kind": "script", "value": SCRIPT}
    assert top["severity"] == "critical" and top["messages"] == 1523
    assert {r["id"] for r in top["reasons"]} >= {"failure_ratio_high", "script_in_writable_dir"}
    assert top["evidence"][0]["line"] and "cwd=" not in top["evidence"][0]["text"]
    auth = next(s for s in suspects if s["source"]["kind"] == "auth_login")
    assert auth["source"]["value"] == "info@clinic.example" and auth["severity"] == "critical"
    news = [s for s in suspects if s["source"]["value"] == "news@store.example"]
    assert news and all(s["severity"] in ("ok", "info") for s in news)
    assert doc["queue"]["messages"] == 868
    plan = {(p["source"]["kind"], p["source"]["value"]): p for p in doc["plan"]}
    assert len(plan[("script", SCRIPT)]["queued_ids"]) == 866
    assert any("whmapi1 suspend_outgoing_email user=shopuser" in c for c in plan[("script", SCRIPT)]["commands"])
    assert any("uapi --user=clinic" in c for c in plan[("auth_login", "info@clinic.example")]["commands"])


def test_nagios_and_prometheus(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prom = tmp_path / "maildoctor.prom"
    res = cli("outbreak", "--root", str(DEMO), "--nagios", "--prometheus-textfile", str(prom))
    assert res.code == 2
    line = res.out.strip()
    assert line.startswith("OUTBREAK CRITICAL - ") and "\n" not in line
    assert "queue_size=868" in line and "frozen=31" in line and "top_rate=826" in line
    text = prom.read_text()
    assert "maildoctor_queue_messages 868" in text
    assert f'maildoctor_outbreak_source_score{{kind="script",source="{SCRIPT}",severity="critical"}} 100' in text
    res = cli("queue", "--root", str(DEMO), "--nagios")
    assert res.code == 0 and res.out.startswith("QUEUE OK - ")


def test_queue_json(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("queue", "--root", str(DEMO), "--format", "json")
    assert res.code == 0
    q = res.json()["queue"]
    assert q["messages"] == 868 and q["frozen"] == 31
    assert q["top_senders"][0] == {"sender": "shopuser@server1.hosting.example", "messages": 866}
    assert q["qshape"]["columns"][0] == "T" and q["qshape"]["rows"]
    assert q["growth"]["arrivals_per_hour"] > 0 and q["disk"]["free_bytes"] > 0


def test_apply_freezes_exactly_the_suspects_messages(cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    exe, record = _fake_exim(tmp_path)
    before = sorted(p.name for p in (demo_copy / "var/spool/exim/input").iterdir())
    res = cli("outbreak", "--root", str(demo_copy), "--apply", "--exim", str(exe), "--format", "json")
    assert res.code == 1, res.err
    frozen = [w for line in record.read_text().splitlines() for w in line.split()[1:]]
    assert all(line.split()[0] == "-Mf" for line in record.read_text().splitlines())
    spool = res.json()
    script_ids = {p["source"]["value"]: p for p in spool["plan"]}[SCRIPT]["queued_ids"]
    assert sorted(frozen) == sorted(script_ids) and len(frozen) == 866
    assert sorted(p.name for p in (demo_copy / "var/spool/exim/input").iterdir()) == before  # nothing deleted
    assert spool["apply"]["action"] == "freeze" and len(spool["apply"]["done"]) == 866


def test_remove_saves_copies_first(cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    exe, record = _fake_exim(tmp_path)
    save = tmp_path / "saved"
    res = cli("outbreak", "--root", str(demo_copy), "--apply", "--remove", "--save-dir", str(save), "--exim", str(exe))
    assert res.code == 1, res.err
    assert len(list(save.iterdir())) == 2 * 866
    assert record.read_text().split()[0] == "-Mrm"


def test_remove_stops_when_a_copy_cannot_be_saved(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    for rel in ("var/log", "var/spool/exim", "etc"):
        shutil.copytree(DEMO / rel, root / rel)
    spool = root / "var/spool/exim/input"
    header = next(h for h in sorted(spool.glob("*-H")) if b"<shopuser@" in h.read_bytes())
    (spool / (header.name[:-2] + "-D")).unlink()  # one of the suspect's messages loses its data file
    exe, record = _fake_exim(tmp_path)
    save = tmp_path / "s"
    res = cli("outbreak", "--root", str(root), "--apply", "--remove", "--save-dir", str(save), "--exim", str(exe))
    assert res.code == 3 and "nothing was removed" in res.err
    assert not record.exists()  # exim was never called


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("outbreak", "--window", "banana"), 2, "--window"),
        (("outbreak", "--window", "30s"), 2, "whole minutes"),
        (("outbreak", "--log", "/nonexistent/mainlog"), 2, "cannot read"),
        (("queue", "--root", "/nonexistent-root"), 2, "not a directory"),
        (("outbreak", "--remove"), 2, "--apply"),
    ],
)
def test_bad_usage_is_one_line(cli, args, code, message) -> None:  # type: ignore[no-untyped-def]
    res = cli(*args)
    assert res.code == code
    assert message in res.err and res.err.count("\n") == 1 and "Traceback" not in res.err


def test_garbage_log_is_one_clear_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "mainlog"
    log.write_bytes(b"\x00\xff garbage\nnot a log line\n" * 100)
    before = log.read_bytes()
    res = cli("outbreak", "--root", str(tmp_path), "--log", str(log), "--format", "json")
    assert res.code == 2
    assert res.err.strip() == f"maildoctor: error: {log}: binary data, not a text log"
    assert log.read_bytes() == before


def test_window_changes_rates(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = str(DEMO / "var/log/exim_mainlog")
    hour = cli("outbreak", "--log", log, "--root", str(tmp_path), "--format", "json").json()["suspects"][0]
    quarter = cli("outbreak", "--log", log, "--root", str(tmp_path), "--window", "15m", "--format", "json")
    q = quarter.json()["suspects"][0]
    assert q["source"] == hour["source"]
    assert q["peak_per_hour"] >= hour["peak_per_hour"]  # a 15-minute peak scaled to an hour is never lower
