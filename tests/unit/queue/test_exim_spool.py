"""Exim spool reader on real Exim 4.96 spool files (data/: written by exim -odq, one frozen with a
delivered recipient, one split spool with an SMTP-auth submission) and on damaged files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maildoctor.queue.exim_bp import parse_exim_bp
from maildoctor.queue.exim_spool import (
    SpoolFormatError,
    find_exim_spool,
    parse_spool_header,
    read_exim_spool,
)

DATA = Path(__file__).parent / "data"


def test_flat_spool_frozen_with_delivered_recipient() -> None:
    read = read_exim_spool(DATA / "flat")
    assert read.errors == ()
    (msg,) = read.messages
    assert msg.message_id == "1xXDzz-0002MX-0G"
    assert msg.sender == "sender@x.example"
    assert msg.frozen
    assert msg.recipients == ("a@b.example", "c@d.example", "extra@e.example")
    assert msg.pending == ("c@d.example", "extra@e.example")  # a@b.example is in the non-recipients tree
    assert msg.local_user == "root" and msg.host_address is None
    assert msg.size == 295  # what exim -bp printed for it


def test_split_spool_auth_host_and_php_script() -> None:
    read = read_exim_spool(DATA / "split")
    assert read.errors == ()
    by_id = {m.message_id: m for m in read.messages}
    auth = by_id["1xXEBM-0004SR-0v"]
    # Exim 4.96 writes tainted values as "--auth_id" and the host as "[ip]:port"
    assert auth.auth_id == "info@client.example"
    assert auth.host_address == "198.51.100.7"
    assert auth.protocol == "esmtpa"
    assert auth.local_user is None
    assert auth.script == "shop.example/wp-content/uploads/x.php"
    assert by_id["1xXEBM-0004ST-0x"].sender == ""  # the null sender <>


@pytest.mark.parametrize("name", ["flat", "split"])
def test_agrees_with_exim_bp(name: str) -> None:
    spool = read_exim_spool(DATA / name)
    bp = parse_exim_bp((DATA / f"{name}.exim-bp.txt").read_text(), now=0.0)
    assert bp.errors == ()

    def key(m):  # type: ignore[no-untyped-def]
        return (m.message_id, m.sender, m.recipients, m.pending, m.frozen, m.size)

    assert sorted(map(key, spool.messages)) == sorted(map(key, bp.messages))


def test_new_23_char_ids(tmp_path: Path) -> None:
    old = "1xXDzz-0002MX-0G"
    new = "1xXDzz-00000002MX0-0Gab"
    (tmp_path / "input").mkdir()
    # Only the first lines carry the file's own id; the headers keep theirs (their lengths are counted).
    h = (DATA / "flat/input" / f"{old}-H").read_bytes().replace(old.encode(), new.encode(), 1)
    d = (DATA / "flat/input" / f"{old}-D").read_bytes().replace(old.encode(), new.encode(), 1)
    (tmp_path / "input" / f"{new}-H").write_bytes(h)
    (tmp_path / "input" / f"{new}-D").write_bytes(d)
    (msg,) = read_exim_spool(tmp_path).messages
    assert msg.message_id == new
    assert msg.size == 295  # the data offset grows with the id, the size does not


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # half-written
        lambda b: b"garbage\x00\xff\n" * 3,
        lambda b: b.replace(b"\n2\n", b"\n7\n", 1),  # recipient count disagrees
        lambda b: b.replace(b"\n<", b"\n", 1),  # sender line without <>
        lambda b: b"",
    ],
)
def test_damaged_header_is_reported_and_skipped(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "spool"
    shutil.copytree(DATA / "split", spool)
    good = spool / "input/M/1xXEBM-0004SV-0y-H"
    bad = spool / "input/M/1xXEBM-0004SR-0v-H"
    original = bad.read_bytes()
    bad.write_bytes(damage(original))
    read = read_exim_spool(spool)
    assert {m.message_id for m in read.messages} == {"1xXEBM-0004ST-0x", good.name[:-2]}
    assert len(read.errors) == 1 and "1xXEBM-0004SR-0v-H" in read.errors[0]
    assert bad.read_bytes() == damage(original)  # never modified


def test_missing_data_file_is_reported(tmp_path: Path) -> None:
    shutil.copytree(DATA / "flat", tmp_path / "s")
    (tmp_path / "s/input/1xXDzz-0002MX-0G-D").unlink()
    read = read_exim_spool(tmp_path / "s")
    assert len(read.messages) == 1 and read.messages[0].size is None
    assert "missing" in read.errors[0]


def test_parse_rejects_wrong_first_line() -> None:
    with pytest.raises(SpoolFormatError):
        parse_spool_header(b"not-an-id-H\nx 0 0\n<a@b>\n1 0\nXX\n0\n\n")


def test_find_spool_layouts(tmp_path: Path) -> None:
    assert find_exim_spool(tmp_path) is None
    (tmp_path / "var/spool/exim4/input").mkdir(parents=True)
    assert find_exim_spool(tmp_path) == tmp_path / "var/spool/exim4"
    (tmp_path / "var/spool/exim/input").mkdir(parents=True)
    assert find_exim_spool(tmp_path) == tmp_path / "var/spool/exim"
