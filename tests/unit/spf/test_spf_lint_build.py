"""Lint rules on realistic zones, and the record builder (minimality, flattening, verification)."""

from __future__ import annotations

from typing import Any

from maildoctor.net.dns import ZoneResolver
from maildoctor.spf.build import build_record, flatten_include, zone_line
from maildoctor.spf.lint import lint_domain, render_tree
from maildoctor.spf.observed import analyze_lines

ZONE: dict[str, Any] = {
    "shop.example": [{"TXT": "v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.7 include:_spf.prov.test include:gone.example "
                             "a:nohost.shop.example mx ptr ?all"},
                     {"SPF": "v=spf1 -all"}, {"MX": [10, "mx.shop.example"]}],
    "mx.shop.example": [{"A": "192.0.2.25"}],
    "_spf.prov.test": [{"TXT": "v=spf1 include:_a.prov.test include:_b.prov.test -all"}],
    "_a.prov.test": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
    "_b.prov.test": [{"TXT": "v=spf1 ip4:203.0.113.0/24 a mx -all"}],
    "gone.example": [{"A": "192.0.2.1"}],
    "loop-a.example": [{"TXT": "v=spf1 redirect=loop-b.example"}],
    "loop-b.example": [{"TXT": "v=spf1 redirect=loop-a.example"}],
    **{f"p{i}.big.test": [{"TXT": f"v=spf1 include:p{i + 1}.big.test ip4:203.0.113.{i} -all"}] for i in range(9)},
    "p9.big.test": [{"TXT": "v=spf1 ip4:203.0.113.200 -all"}],
    "macro.test": [{"TXT": "v=spf1 exists:%{i}._spf.macro.test -all"}],
}


def _ids(domain: str, record: str | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in lint_domain(ZoneResolver(ZONE), domain, record).findings:
        out.setdefault(f.id.removeprefix("spf.lint."), []).append(f.title)
    return out


def test_lint_every_rule_on_one_bad_record() -> None:
    ids = _ids("shop.example")
    for rule in ("spf_rr", "ptr", "all_neutral", "duplicate_network", "include_no_record", "void_lookup"):
        assert rule in ids, (rule, ids)
    assert any("'ip4:192.0.2.7' is inside 'ip4:192.0.2.0/24'" in t for t in ids["duplicate_network"])
    assert "ok" not in ids


def test_lookup_tree_counts_nested_includes() -> None:
    report = lint_domain(ZoneResolver(ZONE), "shop.example")
    lines = render_tree(report.tree)
    assert lines[0] == "shop.example  9/10 DNS lookups"
    assert "├── include:_spf.prov.test  5 (1 + 4 nested)" in lines
    assert report.lookups == 9


def test_redirect_loop() -> None:
    ids = _ids("loop-a.example")
    assert "loop" in ids


def test_over_the_limit_names_the_costliest_include() -> None:
    report = lint_domain(ZoneResolver(ZONE), "x.example", "v=spf1 mx include:p0.big.test -all")
    by_id = {f.id: f for f in report.findings}
    assert report.lookups == 11
    assert "include:p0.big.test' (10)" in by_id["spf.lint.lookup_limit"].explanation


def test_macros_are_not_followed_but_counted() -> None:
    report = lint_domain(ZoneResolver(ZONE), "macro.test")
    assert report.lookups == 1
    assert report.tree.children[0].note.startswith("depends on the sender")


def test_build_is_minimal_and_verified() -> None:
    seen = analyze_lines([
        "2026-11-28 09:00:00 1tA2bC-0004Xy-Ab <= a@shop.example H=n [198.51.100.7]:1 P=esmtp S=1",  # via include
        "2026-11-28 09:00:01 1tA2bC-0004Xy-Ac <= b@shop.example H=n [203.0.113.77]:1 P=esmtp S=1",
        "2026-11-28 09:00:02 1tA2bC-0004Xy-Ad <= c@shop.example H=n [203.0.113.76]:1 P=esmtp S=1",
    ], "shop.example")
    res = build_record(ZoneResolver(ZONE), "shop.example", mx=True, includes=["_a.prov.test"], observed=seen,
                       policy="fail")
    assert res.record == "v=spf1 mx ip4:203.0.113.76/31 include:_a.prov.test -all"  # .76 and .77 merged, no more
    assert all(v["result"] == "pass" for v in res.verification)
    assert res.lookups == 2


def test_build_flattens_only_when_asked() -> None:
    plain = build_record(ZoneResolver(ZONE), "shop.example", mx=True, includes=["p0.big.test"])
    assert plain.lookups == 11 and any(f.id == "spf.build.over_limit" for f in plain.findings)
    flat = build_record(ZoneResolver(ZONE), "shop.example", mx=True, includes=["p0.big.test"], flatten=True)
    assert flat.lookups == 1 and flat.flattened == ["p0.big.test"]
    assert "include:" not in flat.record and "ip4:203.0.113.200" in flat.record
    assert any(f.id == "spf.build.flattened" and f.severity.value == "warning" for f in flat.findings)


def test_flatten_refuses_what_cannot_be_copied() -> None:
    assert flatten_include(ZoneResolver(ZONE), "macro.test") is None  # exists with a macro
    nets = flatten_include(ZoneResolver(ZONE), "_spf.prov.test")
    assert nets is not None and {str(n) for n in nets} >= {"198.51.100.0/24", "203.0.113.0/24"}


def test_zone_line_splits_long_records_at_spaces() -> None:
    record = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(30)) + " -all"
    line = zone_line("shop.example", record)
    chunks = line.split(" IN TXT ")[1][1:-1].split('" "')
    assert len(chunks) == 3
    assert all(len(c) <= 255 for c in chunks) and "".join(chunks) == record
    assert all(c.endswith(" ") for c in chunks[:-1])
