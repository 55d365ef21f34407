"""Address routing from the files under a root, and agreement with real `exim -bt` output.

tests/fixtures/roots/eximbt/exim-bt/ holds the output of Exim 4.96 (`exim -bt ADDRESS`) run with
the cPanel-style router set in exim-bt/exim.conf over that root's valiases and mailbox list.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from maildoctor.forwarders.eximbt import compare_route, explain_bt_item, parse_exim_bt
from maildoctor.server.routing import route_address

BT_ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "roots" / "eximbt"
BT_FILES = sorted((BT_ROOT / "exim-bt").glob("*.txt"))


@pytest.mark.parametrize("bt_file", BT_FILES, ids=[p.stem for p in BT_FILES])
def test_route_agrees_with_real_exim_bt(bt_file: Path) -> None:
    address = bt_file.stem
    items = parse_exim_bt(bt_file.read_text())
    assert items, f"no result lines parsed from {bt_file.name}"
    route = route_address(BT_ROOT, address)
    assert compare_route(route, items) == []


def test_bt_files_cover_every_kind() -> None:
    kinds = {i.kind for p in BT_FILES for i in parse_exim_bt(p.read_text())}
    assert kinds == {"undeliverable", "discarded", "pipe", "file", "routed"}
    assert len(BT_FILES) >= 15


def test_compare_detects_a_disagreement() -> None:
    items = parse_exim_bt((BT_ROOT / "exim-bt" / "f@example.com.txt").read_text())
    route = route_address(BT_ROOT, "nobody@example.com")  # default :fail:, different text
    diffs = compare_route(route, items)
    assert len(diffs) == 2 and "Gone away, sorry" in " ".join(diffs)


def test_parse_and_explain_multi_result_output() -> None:
    items = parse_exim_bt((BT_ROOT / "exim-bt" / "x@example.com.txt").read_text())
    assert [(i.address, i.kind, i.parents) for i in items] == [
        ("ext@gmail.com", "undeliverable", ("x@example.com",)),
        ("info@example.com", "routed", ("x@example.com",)),
    ]
    assert items[1].router == "virtual_user" and items[1].transport == "virtual_userdelivery"
    text = explain_bt_item(items[1])
    assert "local mailbox" in text and "forwarded from x@example.com" in text
    loop = parse_exim_bt((BT_ROOT / "exim-bt" / "a@example.com.txt").read_text())
    assert loop[0].parents == ("b@example.com", "a@example.com")


def kinds(root: Path, address: str) -> list[tuple[str, str]]:
    return [(d.kind, d.value) for d in route_address(root, address).deliveries]


def test_broken_root_routes(make_root: Callable[[str], Path]) -> None:
    root = make_root("broken")
    assert kinds(root, "tickets@broken.example") == [("pipe", "/usr/local/bin/php -q /home/alice/tickets/pipe.php")]
    assert kinds(root, "gone@broken.example") == [("fail", "This address was closed in 2023")]
    assert kinds(root, "trash@broken.example") == [("blackhole", "")]
    assert kinds(root, "NOBODY@Broken.Example") == [("fail", "No such person at this address")]
    assert kinds(root, "ext@broken.example") == [("remote", "someone@gmail.example")]
    assert kinds(root, "whoever@discard.example") == [("blackhole", "")]
    assert kinds(root, "x@nowhere.test") == [("remote", "x@nowhere.test")]
    (dup,) = route_address(root, "dup@broken.example").deliveries  # first line wins, as lsearch
    assert dup.kind == "mailbox" and dup.address == "alice@broken.example" and dup.hops[0].line == 15
    # "*: bob" -> the system user bob -> his ~/.forward (an Exim filter with a pipe)
    (other,) = route_address(root, "anyone@other.example").deliveries
    assert other.kind == "pipe" and other.account == "bob"
    assert [(h.via, h.line) for h in other.hops] == [("valiases-default", 2), ("forward", 3)]
    (root / "home/bob/.forward").unlink()
    (other,) = route_address(root, "anyone@other.example").deliveries
    assert other.kind == "mailbox" and other.value.endswith("home/bob/mail")
    (same,) = route_address(root, "same@broken.example").deliveries
    assert same.kind == "mailbox" and same.exists and [h.line for h in same.hops] == [17]
    (loop,) = route_address(root, "loopa@broken.example").deliveries
    assert loop.kind == "fail" and loop.loop == ("loopa@broken.example", "loopb@other.example", "loopa@broken.example")


def test_keep_a_copy_is_not_a_loop(tmp_path: Path) -> None:
    (tmp_path / "etc/valiases").mkdir(parents=True)
    (tmp_path / "etc/localdomains").write_text("d.example\n")
    (tmp_path / "etc/userdomains").write_text("d.example: ann\n")
    (tmp_path / "home/ann/mail/d.example/me").mkdir(parents=True)
    (tmp_path / "etc/valiases/d.example").write_text("me@d.example: me@d.example, far@away.test\n")
    got = route_address(tmp_path, "me@d.example").deliveries
    assert [(d.kind, d.address) for d in got] == [("mailbox", "me@d.example"), ("remote", "far@away.test")]
    assert all(d.loop == () for d in got)


def test_domain_forwarder_and_include_and_system_aliases(tmp_path: Path) -> None:
    (tmp_path / "etc/valiases").mkdir(parents=True)
    (tmp_path / "etc/vdomainaliases").mkdir(parents=True)
    (tmp_path / "etc/localdomains").write_text("old.example\nnew.example\n")
    (tmp_path / "etc/userdomains").write_text("old.example: ann\nnew.example: ann\n")
    (tmp_path / "etc/vdomainaliases/old.example").write_text("old.example: new.example\n")
    (tmp_path / "etc/valiases/new.example").write_text("sales@new.example: :include:/etc/lists/sales\n")
    (tmp_path / "etc/lists").mkdir()
    (tmp_path / "etc/lists/sales").write_text("a@x.test\nb@y.test\n")
    got = route_address(tmp_path, "sales@old.example").deliveries
    assert [(d.kind, d.address) for d in got] == [("remote", "a@x.test"), ("remote", "b@y.test")]
    assert [h.via for h in got[0].hops] == ["vdomainaliases", "valiases", "include"]
    (tmp_path / "etc/aliases").write_text("postmaster: root\nroot: \\root, ops@x.test\n")
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    got = route_address(tmp_path, "postmaster").deliveries
    assert [(d.kind, d.address) for d in got] == [("mailbox", "root"), ("remote", "ops@x.test")]


def test_postfix_virtual_and_directadmin(tmp_path: Path) -> None:
    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/main.cf").write_text("virtual_alias_maps = hash:/etc/postfix/virtual\n")
    (tmp_path / "etc/postfix/virtual").write_text("info@pf.test  joe@elsewhere.test\n")
    assert kinds(tmp_path, "info@pf.test") == [("remote", "joe@elsewhere.test")]
    (tmp_path / "etc/virtual/da.test").mkdir(parents=True)
    (tmp_path / "etc/virtual/domains").write_text("da.test\n")
    (tmp_path / "etc/virtual/domainowners").write_text("da.test: dan\n")
    (tmp_path / "etc/virtual/da.test/aliases").write_text("sales: :fail: closed\n*: :blackhole:\n")
    assert kinds(tmp_path, "sales@da.test") == [("fail", "closed")]
    assert kinds(tmp_path, "other@da.test") == [("blackhole", "")]
