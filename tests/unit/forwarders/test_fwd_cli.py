"""The forwarders, address and pipe-test commands: output contract, exit codes, bad input."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from maildoctor.doctor import DoctorContext
from maildoctor.forwarders.checks import check_forwarders

BT_ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "roots" / "eximbt"


def test_forwarders_json_and_exit_codes(cli: Callable[..., object], make_root: Callable[[str], Path]) -> None:
    broken = cli("forwarders", "--root", str(make_root("broken")), "--format", "json")
    assert broken.code == 1
    doc = broken.json()
    assert doc["command"] == "forwarders" and doc["entries"] == 25
    assert doc["findings"][0]["severity"] == "critical"
    clean = cli("forwarders", "--root", str(make_root("clean")))
    assert clean.code == 0 and "0 findings" in clean.out


def test_forwarders_bad_input(cli: Callable[..., object], tmp_path: Path) -> None:
    r = cli("forwarders", "--root", str(tmp_path / "nope"))
    assert r.code == 2 and r.err.count("\n") == 1 and "Traceback" not in r.err
    r = cli("forwarders", "--root", str(tmp_path), "--domain", "../etc")
    assert r.code == 2
    empty = cli("forwarders", "--root", str(tmp_path))
    assert empty.code == 0 and "No alias or forwarder files" in empty.out


def test_address_text_and_json(cli: Callable[..., object], make_root: Callable[[str], Path]) -> None:
    root = str(make_root("broken"))
    r = cli("address", "typo@broken.example", "--root", root)
    assert r.code == 1
    assert "/etc/valiases/broken.example:13" in r.out and "/etc/valiases/broken.example:19" in r.out
    doc = cli("address", "info@broken.example", "--root", root, "--format", "json").json()
    assert [d["kind"] for d in doc["deliveries"]] == ["mailbox"]
    assert doc["deliveries"][0]["value"] == "/home/alice/mail/broken.example/info"


def test_address_explains_exim_bt(cli: Callable[..., object]) -> None:
    bt = BT_ROOT / "exim-bt" / "x@example.com.txt"
    r = cli("address", "x@example.com", "--root", str(BT_ROOT), "--exim-bt", str(bt))
    assert "exim -bt says" in r.out and "agree" in r.out
    doc = cli(
        "address", "x@example.com", "--root", str(BT_ROOT), "--exim-bt", "-", "--format", "json", stdin=bt.read_text()
    ).json()
    assert doc["exim_bt"]["agrees"] is True and len(doc["exim_bt"]["explained"]) == 2
    wrong = BT_ROOT / "exim-bt" / "f@example.com.txt"
    r = cli("address", "x@example.com", "--root", str(BT_ROOT), "--exim-bt", str(wrong), "--format", "json")
    assert r.code == 1 and any(f["id"] == "address.exim_disagrees" for f in r.json()["findings"])


def test_address_bad_input(cli: Callable[..., object], tmp_path: Path) -> None:
    assert cli("address", "not an address", "--root", str(tmp_path)).code == 2
    r = cli("address", "a@b.test", "--root", str(tmp_path), "--exim-bt", str(tmp_path / "missing.txt"))
    assert r.code == 2 and "Traceback" not in r.err
    assert cli("address", "a@b.test", "--root", str(tmp_path), "--run-exim").code == 2


def test_pipe_test_cli(cli: Callable[..., object], tmp_path: Path) -> None:
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"From: a@b.test\nTo: t@shop.test\nSubject: x\n\nbody\n")
    d = Path(tempfile.mkdtemp(prefix="md-pipecli-"))
    try:
        _pipe_test_cli(cli, tmp_path, msg, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _pipe_test_cli(cli: Callable[..., object], tmp_path: Path, msg: Path, d: Path) -> None:
    d.chmod(0o755)
    s = d / "fail.sh"
    s.write_text("#!/bin/sh\ncat >/dev/null\necho 'ticket system down'\nexit 1\n")
    s.chmod(0o755)
    user = [] if os.geteuid() != 0 else ["--as-user", "nobody"]
    r = cli("pipe-test", f"|{s}", "--message", str(msg), *user, "--format", "json")
    assert r.code == 1
    doc = r.json()
    assert doc["exit_code"] == 1 and doc["exim_action"] == "bounced" and doc["output"] == "ticket system down\n"
    assert doc["exim_log"] == f"Child process of address_pipe transport returned 1 from command: {s}"
    assert doc["findings"][0]["id"] == "pipe_test.bounced" and doc["environment"]["RECIPIENT"] == "t@shop.test"
    bad = cli("pipe-test", f"|{s}", "--message", str(tmp_path / "none.eml"), *user)
    assert bad.code == 2 and bad.err.startswith("maildoctor: error:")
    binary = tmp_path / "bin.eml"
    binary.write_bytes(b"\x00\x01\x02" * 10)
    assert cli("pipe-test", f"|{s}", "--message", str(binary), *user).code == 2
    assert cli("pipe-test", "|", "--message", str(msg), *user).code == 2
    assert cli("pipe-test", f"|{s}", "--message", str(msg), *user, "--timeout", "0").code == 2


def test_pipe_test_refuses_root_without_as_root(cli: Callable[..., object], tmp_path: Path) -> None:
    if os.geteuid() != 0:
        return  # a non-root caller cannot become root anyway
    msg = tmp_path / "m.eml"
    msg.write_text("Subject: x\n\nbody\n")
    r = cli("pipe-test", "|/bin/true", "--message", str(msg), "--as-user", "root")
    assert r.code == 2 and "refusing to run the pipe as root" in r.err
    r = cli("pipe-test", "|/bin/true", "--message", str(msg))
    assert r.code == 2 and "--as-user" in r.err
    assert cli("pipe-test", "|/bin/true", "--message", str(msg), "--as-root").code == 0


def test_doctor_check(make_root: Callable[[str], Path], tmp_path: Path) -> None:
    found = check_forwarders(DoctorContext(root=make_root("broken")))
    ids = {f.id for f in found}
    assert {"forwarders.pipe_interpreter_missing", "forwarders.default_fail", "forwarders.loop"} <= ids
    assert "forwarders.fail_entry" not in ids  # deliberate per-address :fail: lines stay out of triage
    assert check_forwarders(DoctorContext(root=make_root("clean"))) == []
    assert check_forwarders(DoctorContext(root=tmp_path / "empty")) == []


def test_hostile_alias_files_never_crash(cli: Callable[..., object], tmp_path: Path) -> None:
    import random

    rnd = random.Random(7)
    (tmp_path / "etc/valiases").mkdir(parents=True)
    (tmp_path / "etc/valiases/x.example").write_bytes(bytes(rnd.randrange(256) for _ in range(20000)))
    (tmp_path / "etc/valiases/y.example").write_text(
        'a@y.example: "|unterminated\n' + "b@y.example: " + ",".join(["c@y.example"] * 5000) + "\n" + "x" * 100000
    )
    (tmp_path / "etc/aliases").write_text(":\n::\n:fail:\n\t\n")
    before = {p: p.read_bytes() for p in (tmp_path / "etc/valiases").iterdir()}
    r = cli("forwarders", "--root", str(tmp_path), "--format", "json")
    assert r.code in (0, 1) and "Traceback" not in r.err and r.json()["command"] == "forwarders"
    assert {p: p.read_bytes() for p in (tmp_path / "etc/valiases").iterdir()} == before
    assert cli("address", "b@y.example", "--root", str(tmp_path)).code in (0, 1)


def test_pipe_test_unknown_user(cli: Callable[..., object], tmp_path: Path) -> None:
    msg = tmp_path / "m.eml"
    msg.write_text("Subject: x\n\nbody\n")
    r = cli("pipe-test", "|/bin/true", "--message", str(msg), "--as-user", "no-such-user-md")
    assert r.code == 2 and "no such user" in r.err
