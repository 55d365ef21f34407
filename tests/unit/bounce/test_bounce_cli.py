"""`maildoctor bounce`: inputs, the JSON contract, exit codes, bad and hostile input."""

from __future__ import annotations

from pathlib import Path

from bounce_samples import EXIM_DELAY, EXIM_FAIL_FORWARDER, EXIM_MULTI, POSTFIX_DSN

from tests.conftest import run_cli


def _mbox(*messages: bytes) -> bytes:
    out = b""
    for m in messages:
        body = b"\n".join(b">" + ln if ln.startswith(b"From ") else ln for ln in m.split(b"\n"))
        out += b"From MAILER-DAEMON Sat Nov 28 08:00:00 2026\n" + body.rstrip(b"\n") + b"\n\n"
    return out


def test_json_contract_for_one_file(tmp_path: Path) -> None:
    f = tmp_path / "b.eml"
    f.write_bytes(EXIM_MULTI)
    res = run_cli("bounce", "--format", "json", str(f))
    assert res.code == 1  # failures found
    doc = res.json()
    assert doc["schema_version"] == "1" and doc["command"] == "bounce"
    (b,) = doc["bounces"]
    assert b["file"] == str(f) and b["kind"] == "failure"
    assert b["original_message_id"] == "<figures-2026@store.example>"
    r = b["recipients"][0]
    for key in ("address", "status", "smtp_code", "reason", "hard", "diagnostic", "remote_mta", "rule", "local_cause"):
        assert key in r
    assert r["rule"]["id"] and r["local_cause"] is None
    assert any(f["id"] == "bounce.failure.userunknown" for f in doc["findings"])


def test_mbox_maildir_and_stdin(tmp_path: Path) -> None:
    mbox = tmp_path / "bounces.mbox"
    mbox.write_bytes(_mbox(EXIM_MULTI, EXIM_DELAY, POSTFIX_DSN))
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_bytes(EXIM_DELAY)
    (maildir / "cur" / "2.host:2,S").write_bytes(POSTFIX_DSN)
    res = run_cli("bounce", "--format", "json", str(mbox), str(maildir))
    kinds = [(b["file"].rsplit("/", 1)[-1], b["kind"]) for b in res.json()["bounces"]]
    assert kinds == [
        ("bounces.mbox#1", "failure"),
        ("bounces.mbox#2", "delay"),
        ("bounces.mbox#3", "failure"),
        ("2.host:2,S", "failure"),
        ("1.host", "delay"),
    ]
    res = run_cli("bounce", "--format", "json", "-", stdin=EXIM_DELAY.decode())
    assert res.code == 0  # a delay warning is not a failure
    assert [b["kind"] for b in res.json()["bounces"]] == ["delay"]


def test_root_adds_the_local_cause(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc" / "valiases").mkdir(parents=True)
    (root / "etc" / "localdomains").write_text("store.example\n")
    (root / "etc" / "userdomains").write_text("store.example: storeacct\n")
    (root / "etc" / "valiases" / "store.example").write_text(
        "old@store.example: :fail: No such person at this address\n"
    )
    f = tmp_path / "b.eml"
    f.write_bytes(EXIM_FAIL_FORWARDER)
    res = run_cli("bounce", "--format", "json", "--root", str(root), str(f))
    cause = res.json()["bounces"][0]["recipients"][0]["local_cause"]
    assert cause["kind"] == "fail_forwarder"
    assert (cause["file"], cause["line"]) == ("/etc/valiases/store.example", 1)
    text = run_cli("bounce", "--root", str(root), str(f))
    assert "/etc/valiases/store.example:1" in text.out


def test_missing_input_is_a_clear_error_and_the_rest_is_printed(tmp_path: Path) -> None:
    f = tmp_path / "b.eml"
    f.write_bytes(EXIM_DELAY)
    res = run_cli("bounce", "--format", "json", str(f), str(tmp_path / "nope.eml"))
    assert res.code == 2
    assert len(res.json()["bounces"]) == 1
    assert "nope.eml" in res.err and "Traceback" not in res.err


def test_bad_root_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "b.eml"
    f.write_bytes(EXIM_DELAY)
    res = run_cli("bounce", "--root", str(tmp_path / "no-such-dir"), str(f))
    assert res.code == 2
    assert "Traceback" not in res.err


def test_hostile_input_gets_a_result(tmp_path: Path) -> None:
    deep = b'From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\nMIME-Version: 1.0\n'
    deep += b'Content-Type: multipart/mixed; boundary="b0"\n\n'
    for i in range(1, 3000):
        deep += b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (i - 1, i)
    deep += b"--b2999\nContent-Type: text/plain\n\n<x@y.example>: 550 5.1.1 user unknown\n"
    big = (
        b'From: MAILER-DAEMON@x.example\nSubject: Undelivered\nMIME-Version: 1.0\n'
        b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
        b"<a@b.example>: host mx.b.example[192.0.2.1] said: 550 5.1.1 user unknown\n"
        b"--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + b"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n" * 800_000
        + b"--B--\n"
    )
    cases = {
        "deep.eml": deep,
        "big.eml": big,
        "garbage.bin": bytes(range(256)) * 400,
        "noheaders.txt": b"just some words\nand more\n",
        "badenc.eml": b"Content-Type: text/plain; charset=x-nope\nContent-Transfer-Encoding: base64\n\n!!!@@@",
        "empty.eml": b"",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    res = run_cli("bounce", "--format", "json", *(str(tmp_path / n) for n in cases))
    # inputs that are not emails at all are input errors (exit 2, one line each); the rest is still reported
    not_mail = {"garbage.bin", "noheaders.txt", "empty.eml"}
    assert res.code == 2
    assert sorted(line.split(": ")[2].rsplit("/", 1)[-1] for line in res.err.splitlines()) == sorted(not_mail)
    got = {b["file"].rsplit("/", 1)[-1]: b for b in res.json()["bounces"]}
    assert set(got) == set(cases) - not_mail
    assert [(r["address"], r["reason"]) for r in got["deep.eml"]["recipients"]] == [("x@y.example", "userunknown")]
    assert [(r["address"], r["reason"]) for r in got["big.eml"]["recipients"]] == [("a@b.example", "userunknown")]
    assert any("truncated" in n for n in got["big.eml"]["notes"])
    assert got["badenc.eml"]["kind"] == "not_bounce"
