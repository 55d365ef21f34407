"""Macro expansion (RFC 7208 §7.4 examples) and record parsing with error positions."""

from __future__ import annotations

import ipaddress

import pytest

from maildoctor.spf.macros import MacroEnv, MacroError, expand_domain, expand_macros
from maildoctor.spf.record import check_domain_spec, parse_record

ENV4 = MacroEnv("strong-bad", "email.example.com", "email.example.com", ipaddress.ip_address("192.0.2.3"),
                "mx.example.org", "receiver.example.net", 1234567890, lambda: "mx.example.org")
ENV6 = MacroEnv("strong-bad", "email.example.com", "email.example.com", ipaddress.ip_address("2001:db8::cb01"),
                "mx.example.org")


@pytest.mark.parametrize(("macro", "expanded"), [
    ("%{s}", "strong-bad@email.example.com"),
    ("%{o}", "email.example.com"),
    ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"),
    ("%{d3}", "email.example.com"),
    ("%{d2}", "example.com"),
    ("%{d1}", "com"),
    ("%{dr}", "com.example.email"),
    ("%{d2r}", "example.email"),
    ("%{l}", "strong-bad"),
    ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"),
    ("%{lr-}", "bad.strong"),
    ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ("%{p}", "mx.example.org"),
    ("%%%_%-", "% %20"),
])
def test_rfc7208_section_7_4_examples(macro: str, expanded: str) -> None:
    assert expand_macros(macro, ENV4) == expanded


def test_ipv6_example_and_exp_only_letters() -> None:
    assert expand_macros("%{ir}.%{v}._spf.%{d2}", ENV6) == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")
    assert expand_macros("%{c} %{r} %{t}", ENV4, exp=True) == "192.0.2.3 receiver.example.net 1234567890"
    with pytest.raises(MacroError, match="only in exp"):
        expand_macros("%{c}.example.com", ENV4)


def test_uppercase_letters_are_url_escaped() -> None:
    env = MacroEnv("a/b c", "example.com", "example.com", ipaddress.ip_address("192.0.2.3"), "h")
    assert expand_macros("%{L}", env) == "a%2Fb%20c"


@pytest.mark.parametrize("bad", ["%{z}", "%{d0}", "%(d)", "100%", "%{d"])
def test_invalid_macros_raise(bad: str) -> None:
    with pytest.raises(MacroError):
        expand_macros(bad, ENV4)


def test_expand_domain_drops_left_labels_past_253_and_trailing_dot() -> None:
    env = MacroEnv("x" * 60, "example.com", "example.com", ipaddress.ip_address("192.0.2.3"), "h")
    name = expand_domain("%{l}.%{l}.%{l}.%{l}.%{l}.example.com.", env)
    assert len(name) <= 253 and name.endswith("x.example.com") and not name.endswith(".")


def test_parse_record_terms_and_modifiers() -> None:
    rec = parse_record("v=spf1 +a mx/24//64 -ip4:192.0.2.0/24 ~include:_spf.example.net ?ptr:example.org "
                       "ip6:2001:db8::/32 exists:%{i}.x.example.com redirect=_spf.example.com exp=exp.%{d} "
                       "foo=bar -all")
    assert rec.ok
    names = [(t.qualifier, t.name) for t in rec.mechanisms]
    assert names[:3] == [("+", "a"), ("+", "mx"), ("-", "ip4")]
    mx = rec.mechanisms[1]
    assert (mx.cidr4, mx.cidr6) == (24, 64)
    assert rec.modifier("redirect") is not None and rec.modifier("redirect").argument == "_spf.example.com"  # type: ignore[union-attr]
    assert rec.mechanisms[-1].result == "fail"


@pytest.mark.parametrize(("record", "position", "words"), [
    ("v=spf1 a:foo", 10, "fully qualified"),
    ("v=spf1 mx ip4:192.0.2.1/33", 24, "CIDR"),
    ("v=spf1 -all all:x", 13, "takes no argument"),
    ("v=spf1 redirect=a.example.com redirect=b.example.com", 31, "more than once"),
    ("v=spf1 foo:bar", 8, "unknown mechanism"),
    ("v=spf1 a:%{q}.example.com", 10, "unknown macro letter"),
    ("v=spf1 a:ex\u00e4mple.com", 12, "not allowed"),
    ("v=spf1 mx:foo.-bar", 15, "top-level label"),
    ("v=spf1 exp=%{c}.example.com", 12, "only in exp= text"),
])
def test_syntax_problems_carry_their_position(record: str, position: int, words: str) -> None:
    rec = parse_record(record)
    assert not rec.ok
    first = rec.problems[0]
    assert first.position + 1 == position, str(first)
    assert words in str(first)


def test_domain_spec_rules() -> None:
    assert check_domain_spec("example.com") is None
    assert check_domain_spec("%{d}") is None
    assert check_domain_spec("foo.%{d}") is None
    assert check_domain_spec("foo.123") == (4, "invalid top-level label '123'")
    assert check_domain_spec("e-mail.example-1.com") is None
    assert check_domain_spec("") == (0, "empty domain")
