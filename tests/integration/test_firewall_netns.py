"""`maildoctor firewall --user --target` in a namespace: an owner-match rule blocks one uid while
root connects, and the report names that rule."""

from __future__ import annotations

import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.net.netns import NetNs, need_netns

pytestmark = pytest.mark.integration

ADDR = "192.0.2.1"


@pytest.fixture(scope="module")
def ns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetNs]:
    need_netns()
    tmp = tmp_path_factory.mktemp("firewall")
    n = NetNs("firewall")
    try:
        n.add_address(ADDR)
        n.start_servers(tmp, [{"addr": ADDR, "port": p, "kind": "smtp"} for p in (25, 587)])
        n.iptables("-A", "OUTPUT", "-o", "lo", "-d", "127.0.0.0/8", "-j", "ACCEPT")
        n.iptables("-A", "OUTPUT", "-m", "owner", "--uid-owner", str(pwd.getpwnam("nobody").pw_uid), "-p", "tcp",
                   "--dport", "25", "-j", "REJECT")
        yield n
    finally:
        n.close()


@pytest.fixture(scope="module")
def doc(ns: NetNs) -> dict[str, Any]:
    res = ns.maildoctor("firewall", "--user", "nobody", "--target", ADDR, "--ports", "25,587", "--timeout", "2",
                        "--format", "json")
    assert res.code == 1, res.err
    out: dict[str, Any] = res.json()
    return out


def test_live_connections(doc: dict[str, Any]) -> None:
    assert doc["live"]["25"]["user"] == "refused" and doc["live"]["25"]["root"] == "open"
    assert doc["live"]["587"] == {"user": "open", "user_detail": "connected", "root": "open",
                                  "root_detail": "connected"}


def test_names_the_rule(doc: dict[str, Any]) -> None:
    uid = pwd.getpwnam("nobody").pw_uid
    remote = {p["port"]: p for p in doc["ports"] if p["to"] == "remote"}
    assert remote[25]["blocked"] and not remote[587]["blocked"]
    rule = remote[25]["by"][0]
    assert rule["by"] == "iptables" and f"--uid-owner {uid}" in rule["rule"] and "-j REJECT" in rule["rule"]
    live = next(f for f in doc["findings"] if f["id"] == "firewall.live_blocked")
    assert f"--uid-owner {uid}" in live["title"] and ":25" in live["title"]
    assert any("port 587" in w for w in doc["workarounds"])  # 587 still works for this user


def test_owner_rule_listed_without_user(ns: NetNs) -> None:
    res = ns.maildoctor("firewall", "--format", "json")
    doc = res.json()
    assert any(f["id"] == "firewall.owner_rule" for f in doc["findings"])
    assert "target" not in res.err


def test_target_must_be_named_address(ns: NetNs, tmp_path: Path) -> None:
    res = ns.maildoctor("firewall", "--user", "nobody", "--target", "mail.example.com")
    assert res.code == 2 and "IP address" in res.err and res.err.count("\n") == 1
