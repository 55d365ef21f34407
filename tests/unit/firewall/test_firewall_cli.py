"""`maildoctor firewall --root SNAPSHOT --user ...` on a cPanel-like tree (no live rules, no network)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.firewall.test_firewall_rules import CSF_CONF

SAVED = """*filter
:OUTPUT ACCEPT [0:0]
-A OUTPUT -p tcp -m owner --uid-owner shopuser -m tcp --dport 587 -j DROP
COMMIT
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc/csf").mkdir(parents=True)
    (tmp_path / "etc/csf/csf.conf").write_text(CSF_CONF)
    (tmp_path / "etc/sysconfig").mkdir()
    (tmp_path / "etc/sysconfig/iptables").write_text(SAVED)
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/bash\nmailnull:x:47:12::/var/spool:/sbin/nologin\n"
                                         "shopuser:x:1001:1001::/home/shopuser:/bin/bash\n"
                                         "trusted:x:1005:1005::/home/trusted:/bin/bash\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nmail:x:12:mailnull\nshopuser:x:1001:\ntrusted:x:1005:\n")
    return tmp_path


def run(cli: Callable[..., Any], *args: str) -> tuple[int, dict[str, Any]]:
    res = cli("firewall", "--format", "json", *args)
    assert res.err == "" or res.code == 2
    return res.code, res.json()


def test_script_user_blocked_by_csf_and_rule(cli: Callable[..., Any], root: Path) -> None:
    code, doc = run(cli, "--root", str(root), "--user", "/home/shopuser/public_html/contact.php")
    assert code == 1
    assert doc["user"]["name"] == "shopuser" and doc["user"]["found_as"].startswith("owner of")
    remote = {p["port"]: p for p in doc["ports"] if p["to"] == "remote"}
    local = {p["port"]: p for p in doc["ports"] if p["to"] == "loopback"}
    assert [b["by"] for b in remote[25]["by"]] == ["csf"] and "SMTP_BLOCK" in remote[25]["by"][0]["rule"]
    assert remote[25]["by"][0]["line"] == 4
    assert {b["by"] for b in remote[587]["by"]} == {"csf", "iptables"}
    assert not local[25]["blocked"]  # SMTP_ALLOWLOCAL
    assert local[587]["blocked"] and local[587]["by"][0]["by"] == "iptables"  # the owner rule has no -o lo exemption
    fixes = doc["workarounds"]
    assert fixes[0].startswith("Use the local MTA")
    assert "localhost port 25" in fixes[1]
    assert any('SMTP_ALLOWUSER = "shopuser"' in f for f in fixes)
    assert any("--uid-owner 1001" in f for f in fixes)


def test_whitelisted_user(cli: Callable[..., Any], root: Path) -> None:
    code, doc = run(cli, "--root", str(root), "--user", "trusted", "--ports", "25,587")
    assert code == 0
    assert not any(p["blocked"] for p in doc["ports"])
    assert any(f["id"] == "firewall.user_allowed" for f in doc["findings"])


def test_bad_input(cli: Callable[..., Any], root: Path) -> None:
    for args in (["--user", "nosuchuser"], ["--user", "/var/www/x.php"], ["--ports", "0"],
                 ["--live"], ["--user", "trusted", "--target", "192.0.2.1"]):
        res = cli("firewall", "--root", str(root), *args)
        assert res.code == 2 and res.err.startswith("maildoctor: error:") and res.err.count("\n") == 1, args


def test_rules_dump_given_on_the_command_line(cli: Callable[..., Any], root: Path, tmp_path: Path) -> None:
    from tests.unit.firewall.test_firewall_rules import NFT

    dump = tmp_path / "ruleset.nft"
    dump.write_text(NFT.replace('"www-data"', "1005"))
    code, doc = run(cli, "--root", str(root), "--user", "trusted", "--ports", "587", "--rules", str(dump))
    assert code == 1
    remote = next(p for p in doc["ports"] if p["to"] == "remote")
    assert remote["by"] == [{"by": "nft", "rule": "meta skuid 1005 tcp dport 587 drop", "where": str(dump),
                             "line": 7}]
    bad = tmp_path / "garbage.txt"
    bad.write_text("hello\n")
    res = cli("firewall", "--root", str(root), "--rules", str(bad))
    assert res.code == 2 and "neither iptables-save nor nft" in res.err


def test_demo_server(cli: Callable[..., Any]) -> None:
    code, doc = run(cli, "--demo", "--user", "/home/shopuser/public_html/wp-content/contact.php", "--ports", "25,587")
    assert code == 1 and doc["csf"]["smtp_block"] is True
    blocked = next(f for f in doc["findings"] if f["id"] == "firewall.user_blocked")
    assert "SMTP_BLOCK" in blocked["evidence"][0]["text"] and blocked["evidence"][0]["line"] is not None
    assert not any(p["blocked"] for p in doc["ports"] if p["to"] == "loopback")  # SMTP_ALLOWLOCAL = "1"
