"""Hostile records end in a clear RFC 7208 result (mostly permerror) quickly: no hang, no crash."""

from __future__ import annotations

import time

import pytest

from maildoctor.net.dns import ZoneResolver
from maildoctor.spf.evaluator import check_host


def _check(zone: dict[str, list[object]], ip: str = "192.0.2.1", sender: str = "a@evil.test") -> tuple[str, str, float]:
    start = time.perf_counter()
    res = check_host(ZoneResolver(zone), ip, sender, "helo.test")
    return res.result, res.problem, time.perf_counter() - start


def test_include_loop_is_permerror_at_the_lookup_limit() -> None:
    zone: dict[str, list[object]] = {"evil.test": [{"TXT": "v=spf1 include:loop.test -all"}],
                                     "loop.test": [{"TXT": "v=spf1 include:evil.test -all"}]}
    result, problem, _ = _check(zone)
    assert result == "permerror"
    assert "more than 10 DNS-querying terms" in problem


def test_self_redirect_loop_is_permerror() -> None:
    result, problem, _ = _check({"evil.test": [{"TXT": "v=spf1 redirect=evil.test"}]})
    assert result == "permerror" and "10" in problem


def test_thousand_lookup_mechanisms_stop_at_the_eleventh() -> None:
    record = "v=spf1 " + " ".join(f"a:h{i}.evil.test" for i in range(1000)) + " -all"
    zone: dict[str, list[object]] = {"evil.test": [{"TXT": record}]}
    zone |= {f"h{i}.evil.test": [{"A": "203.0.113.1"}] for i in range(1000)}
    resolver = ZoneResolver(zone)
    res = check_host(resolver, "192.0.2.1", "a@evil.test", "helo.test")
    assert res.result == "permerror"
    assert "'a:h10.evil.test' in evil.test was lookup 11" in res.problem
    assert len(resolver.queries) == 11  # the record, then ten A queries; the 11th term is never queried


def test_thousand_ip4_mechanisms_are_valid_and_fast() -> None:
    # RFC 7208 sets no limit on terms that need no DNS; such a record is legal and must stay cheap.
    record = "v=spf1 " + " ".join(f"ip4:198.51.{i // 256}.{i % 256}" for i in range(1000)) + " -all"
    result, _, seconds = _check({"evil.test": [{"TXT": record}]})
    assert result == "fail"
    assert seconds < 5


def test_macro_expanding_past_253_characters_is_truncated_from_the_left() -> None:
    local = "x" * 60
    zone: dict[str, list[object]] = {"evil.test": [{"TXT": "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.evil.test -all"}]}
    res = check_host(ZoneResolver(zone), "192.0.2.1", f"{local}@evil.test", "helo.test")
    queried = [s.query for s in res.trace if s.action == "query"]
    assert res.result == "fail"
    assert any(q.endswith(".evil.test A") and len(q.split()[0]) <= 253 for q in queried), queried


def test_macro_building_labels_over_63_is_a_void_lookup_then_permerror() -> None:
    zone: dict[str, list[object]] = {
        "evil.test": [{"TXT": "v=spf1 exists:%{l}%{l}.evil.test exists:%{l}%{l}.a.test exists:%{l}%{l}.b.test -all"}]}
    res = check_host(ZoneResolver(zone), "192.0.2.1", "y" * 40 + "@evil.test", "helo.test")
    assert res.result == "permerror"
    assert "void" in res.problem


@pytest.mark.parametrize("term", ["ip4:192.0.2.1/33", "ip4:192.0.2.1/", "ip4:192.0.2.1/024", "a/-1", "a//129",
                                  "ip6:2001:db8::/0129", "mx/33", "ip4:192.0.2.999", "ip6:zz::1", "a:/24"])
def test_malformed_cidr_or_address_is_permerror_with_the_position(term: str) -> None:
    result, problem, _ = _check({"evil.test": [{"TXT": f"v=spf1 {term} -all"}]})
    assert result == "permerror"
    position = int(problem.rsplit("at position ", 1)[1])
    assert 8 <= position <= 8 + len(term), problem  # inside the bad term


def test_huge_term_does_not_backtrack_for_ever() -> None:
    record = "v=spf1 a:" + "/" * 20000 + "x -all"
    result, _, seconds = _check({"evil.test": [{"TXT": record}]})
    assert result == "permerror"
    assert seconds < 5


def test_huge_digit_transformer_is_harmless() -> None:
    zone: dict[str, list[object]] = {"evil.test": [{"TXT": "v=spf1 a:%{d99999999999999999999} -all"}],
                                     }
    result, _, _ = _check(zone)
    assert result == "fail"


def test_more_than_ten_mx_names_is_permerror() -> None:
    zone: dict[str, list[object]] = {"evil.test": [{"TXT": "v=spf1 mx -all"}, *[{"MX": [i, f"m{i}.evil.test"]}
                                                                             for i in range(11)]]}
    result, problem, _ = _check(zone)
    assert result == "permerror" and "11 MX records" in problem


class _SlowResolver:
    """Every answer takes a while: the evaluation must give up with temperror, not run on for minutes."""

    def __init__(self, zone: dict[str, list[object]]) -> None:
        self.zone = ZoneResolver(zone)

    def query(self, name: str, rdtype: str) -> object:
        time.sleep(0.05)
        return self.zone.query(name, rdtype)


def test_overall_time_limit_is_temperror() -> None:
    record = "v=spf1 " + " ".join(f"a:h{i}.evil.test" for i in range(9)) + " -all"
    zone: dict[str, list[object]] = {"evil.test": [{"TXT": record}]}
    zone |= {f"h{i}.evil.test": [{"A": "203.0.113.1"}] for i in range(9)}
    res = check_host(_SlowResolver(zone), "192.0.2.1", "a@evil.test", time_limit=0.2)  # type: ignore[arg-type]
    assert res.result == "temperror"
    assert "longer than 0.2 s" in res.problem


def test_internationalised_sender_domain_is_checked_as_a_labels() -> None:
    res = check_host(ZoneResolver({"xn--bcher-kva.example": [{"TXT": "v=spf1 -all"}]}), "192.0.2.1",
                     "anna@bücher.example", "helo.test")
    assert (res.result, res.domain) == ("fail", "xn--bcher-kva.example")
