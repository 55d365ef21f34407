"""CSF settings, iptables-save / nft parsing and the outgoing-connection verdict per user."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildoctor.firewall.policy import Conn, evaluate
from maildoctor.server.csf import csf_decides, parse_csf_conf, parse_port_list, read_csf
from maildoctor.server.firewall import parse_iptables_save, parse_nft_ruleset, read_cpanel_smtp_restrictions

CSF_CONF = '''# csf.conf
TESTING = "0"
TCP_OUT = "20,21,22,25,53,80,110,443,587"
SMTP_BLOCK = "1"
SMTP_ALLOWLOCAL = "1"
SMTP_PORTS = "25,465,587"
SMTP_ALLOWUSER = "trusted"
SMTP_ALLOWGROUP = "mail,mailman"
'''

# what CSF loads for SMTP_BLOCK, as iptables-save prints it
CSF_RULES = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT DROP [0:0]
:LOCALOUTPUT - [0:0]
:SMTPOUTPUT - [0:0]
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -j LOCALOUTPUT
-A OUTPUT -p tcp -m multiport --dports 25,465,587 -j SMTPOUTPUT
-A OUTPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 25 -j ACCEPT
-A OUTPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 587 -j ACCEPT
-A OUTPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 443 -j ACCEPT
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A SMTPOUTPUT -m owner --uid-owner 0 -j RETURN
-A SMTPOUTPUT -m owner --gid-owner 12 -j RETURN
-A SMTPOUTPUT -m owner --uid-owner 1005 -j RETURN
-A SMTPOUTPUT -j REJECT --reject-with icmp-port-unreachable
COMMIT
"""

NFT = """table inet filter {
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept
		ct state established,related accept
		meta skuid != 0 tcp dport { 25, 465 } counter packets 3 bytes 180 reject with tcp reset
		meta skuid "www-data" tcp dport 587 drop
	}
}
"""


def test_csf_settings() -> None:
    s = parse_csf_conf(CSF_CONF)
    assert s["SMTP_BLOCK"].value == "1" and s["SMTP_BLOCK"].line == 4
    assert parse_port_list("25,465,30000:30002") == {25, 465, 30000, 30001, 30002}
    assert parse_port_list("x,,70000") == frozenset()


def test_csf_decides(tmp_path: Path) -> None:
    (tmp_path / "etc/csf").mkdir(parents=True)
    (tmp_path / "etc/csf/csf.conf").write_text(CSF_CONF)
    cfg = read_csf(tmp_path)
    assert cfg is not None and cfg.smtp_block
    bob = csf_decides(cfg, "bob", 1001, frozenset({"bob"}), 25, loopback=False)
    assert bob is not None and bob.blocked and bob.key == "SMTP_BLOCK"
    local = csf_decides(cfg, "bob", 1001, frozenset({"bob"}), 25, loopback=True)
    assert local is not None and not local.blocked and local.key == "SMTP_ALLOWLOCAL"
    trusted = csf_decides(cfg, "trusted", 1005, frozenset(), 587, loopback=False)
    assert trusted is not None and not trusted.blocked and trusted.key == "SMTP_ALLOWUSER"
    exim = csf_decides(cfg, "mailnull", 47, frozenset({"mail"}), 25, loopback=False)
    assert exim is not None and not exim.blocked
    root26 = csf_decides(cfg, "root", 0, frozenset(), 26, loopback=False)
    assert root26 is not None and root26.blocked and root26.key == "TCP_OUT"
    assert csf_decides(cfg, "bob", 1001, frozenset(), 2525, loopback=True) is None
    (tmp_path / "etc/csf/csf.disable").write_text("")
    off = read_csf(tmp_path)
    assert off is not None and not off.smtp_block and csf_decides(off, "bob", 1001, frozenset(), 25, False) is None


@pytest.mark.parametrize(("uid", "gid", "port", "loopback", "action", "line"), [
    (1001, 1001, 25, False, "REJECT", 17),  # an ordinary user: the catch-all REJECT of SMTPOUTPUT
    (0, 0, 25, False, "ACCEPT", 10),  # root returns from SMTPOUTPUT, then port 25 is accepted
    (47, 12, 587, False, "ACCEPT", 11),  # the MTA (group mail)
    (1005, 1005, 465, False, "DROP", None),  # allowed by SMTP, but 465 is not an open outbound port: policy
    (1001, 1001, 25, True, "ACCEPT", 7),  # loopback first
])
def test_iptables_csf_chain(uid: int, gid: int, port: int, loopback: bool, action: str, line: int | None) -> None:
    rs = parse_iptables_save(CSF_RULES, "saved")
    v = evaluate(rs, Conn(uid, gid, port, loopback))
    assert v is not None and v.action == action
    assert (v.rule.line if v.rule else None) == line


def test_nft_rules() -> None:
    rs = parse_nft_ruleset(NFT, "nft", users={"www-data": 33})
    v = evaluate(rs, Conn(33, 33, 25, False))
    assert v is not None and v.action == "REJECT" and "skuid != 0" in (v.rule.text if v.rule else "")
    v = evaluate(rs, Conn(33, 33, 587, False))
    assert v is not None and v.action == "DROP" and v.rule is not None and v.rule.line == 7
    v = evaluate(rs, Conn(0, 0, 25, False))
    assert v is not None and v.action == "ACCEPT" and v.rule is None  # the policy
    v = evaluate(rs, Conn(33, 33, 25, True))
    assert v is not None and v.action == "ACCEPT" and v.rule is not None and v.rule.line == 4


def test_undecidable_rule_is_reported_not_guessed() -> None:
    rs = parse_iptables_save("*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp --dport 25 -m geoip --dst-cc CN "
                             "-j DROP\nCOMMIT\n", "x")
    v = evaluate(rs, Conn(1001, 1001, 25, False))
    assert v is not None and v.action == "ACCEPT" and len(v.uncertain) == 1


def test_no_output_rules() -> None:
    assert evaluate(parse_iptables_save("", "x"), Conn(1, 1, 25, False)) is None
    assert evaluate(parse_nft_ruleset("garbage {{{ }", "x"), Conn(1, 1, 25, False)) is None


def test_cpanel_state(tmp_path: Path) -> None:
    assert read_cpanel_smtp_restrictions(tmp_path) is None
    (tmp_path / "var/cpanel").mkdir(parents=True)
    (tmp_path / "var/cpanel/cpanel.config").write_text("a=1\nsmtpmailgidonly=0\n")
    state = read_cpanel_smtp_restrictions(tmp_path)
    assert state is not None and not state.enabled and state.line == 2
    (tmp_path / "var/cpanel/smtpgidonlytweak").write_text("")
    state = read_cpanel_smtp_restrictions(tmp_path)
    assert state is not None and state.enabled


def test_looping_and_exploding_chains_are_cut() -> None:
    lines = ["*filter", ":OUTPUT ACCEPT [0:0]"] + [f":C{i} - [0:0]" for i in range(20)]
    lines += ["-A OUTPUT -j OUTPUT"] + [f"-A OUTPUT -j C{0}"] * 5
    for i in range(19):
        lines += [f"-A C{i} -j C{i + 1}"] * 5  # 5^20 paths if walked naively
    lines += ["-A C19 -j C0", "COMMIT"]
    v = evaluate(parse_iptables_save("\n".join(lines), "x"), Conn(1000, 1000, 25, False))
    assert v is not None and v.action == "ACCEPT" and v.rule is None
