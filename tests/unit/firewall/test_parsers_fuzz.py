"""The text parsers never raise, whatever they are fed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from maildoctor.codes.outlook import parse_outlook_text
from maildoctor.firewall.policy import Conn, evaluate
from maildoctor.server.csf import parse_csf_conf
from maildoctor.server.firewall import parse_iptables_save, parse_nft_ruleset

LINES = st.lists(st.one_of(
    st.text(max_size=80),
    st.sampled_from(["*filter", ":OUTPUT ACCEPT [0:0]", "-A OUTPUT -p tcp --dport 25 -j REJECT", "COMMIT",
                     "-A OUTPUT -m owner ! --uid-owner x -j X", "table inet t {", "chain c {", "}",
                     "type filter hook output priority 0; policy drop;", "meta skuid != 0 tcp dport { 25 } drop",
                     'SMTP_BLOCK = "1"', "-A OUTPUT -j OUTPUT", "jump c", "tcp dport"]),
), max_size=30).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(LINES, st.integers(0, 70000), st.booleans())
def test_firewall_parsers_total(text: str, port: int, loopback: bool) -> None:
    for rs in (parse_iptables_save(text, "x"), parse_nft_ruleset(text, "x")):
        evaluate(rs, Conn(1000, 1000, port, loopback))
    parse_csf_conf(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_outlook_parser_total(text: str) -> None:
    parse_outlook_text(text)
