"""`maildoctor spf check|lint|build` end to end, DNS answered by the zone stub."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from maildoctor.net.dns import ZoneResolver
from tests.conftest import run_cli

ZONE: dict[str, list[Any]] = {
    "example.com": [{"TXT": "v=spf1 mx ip4:192.0.2.0/28 include:_spf.mailer.test -all exp=why.example.com"},
                    {"MX": [10, "mx.example.com"]}, {"A": "192.0.2.80"}],
    "why.example.com": [{"TXT": "%{i} is not allowed to send for %{d}; see https://example.com/spf"}],
    "mx.example.com": [{"A": "192.0.2.25"}],
    "_spf.mailer.test": [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
    "broken.test": [{"TXT": "v=spf1 ip4:192.0.2.1/33 include:nothing.test +all"}, {"TXT": "v=spf1 -all"}],
    "slow.test": ["TIMEOUT"],
    "helo.example.com": [{"TXT": "v=spf1 a -all"}, {"A": "203.0.113.5"}],
}


@pytest.fixture(autouse=True)
def stub_dns(monkeypatch: pytest.MonkeyPatch) -> ZoneResolver:
    resolver = ZoneResolver(ZONE)
    monkeypatch.setattr("maildoctor.cli.spf.make_resolver", lambda *a, **k: resolver)
    return resolver


def test_check_fail_json_contract() -> None:
    res = run_cli("spf", "check", "203.0.113.9", "alice@example.com", "--helo", "mail.test", "--format", "json",
                  "--receiver", "mx.receiver.test")
    assert res.code == 1
    doc = res.json()
    assert doc["command"] == "spf check"
    assert doc["result"] == "fail"
    assert doc["mechanism"] == "-all"
    assert doc["explanation"] == "203.0.113.9 is not allowed to send for example.com; see https://example.com/spf"
    assert doc["lookups"] == 2 and doc["void_lookups"] == 0
    assert doc["received_spf"].startswith("Received-SPF: fail (mx.receiver.test: domain of example.com does not")
    assert "client-ip=203.0.113.9;" in doc["received_spf"] and "helo=mail.test;" in doc["received_spf"]
    assert doc["authentication_results"].endswith("smtp.mailfrom=alice@example.com")
    queries = [s["query"] for s in doc["trace"] if s["action"] == "query"]
    assert queries[:3] == ["example.com TXT", "example.com MX", "mx.example.com A"]
    assert doc["findings"][0]["id"] == "spf.result.fail" and doc["findings"][0]["severity"] == "critical"


def test_check_pass_through_include_text() -> None:
    res = run_cli("spf", "check", "198.51.100.7", "bob@example.com")
    assert res.code == 0
    assert "SPF pass" in res.out
    assert "include:_spf.mailer.test" in res.out
    assert "Received-SPF: pass" in res.out


def test_check_draft_record_overrides_dns() -> None:
    res = run_cli("spf", "check", "203.0.113.9", "alice@example.com", "--record", "v=spf1 ip4:203.0.113.0/24 -all",
                  "--format", "json")
    assert res.json()["result"] == "pass"
    assert res.code == 0


def test_check_helo_identity_with_empty_sender() -> None:
    doc = run_cli("spf", "check", "203.0.113.5", "<>", "--helo", "helo.example.com", "--format", "json").json()
    assert doc["result"] == "pass" and doc["identity"] == "helo"
    assert doc["sender"] == "postmaster@helo.example.com"
    assert doc["authentication_results"].endswith("smtp.helo=helo.example.com")


def test_check_helo_identity_explicitly() -> None:
    doc = run_cli("spf", "check", "203.0.113.5", "alice@example.com", "--helo", "helo.example.com", "--identity",
                  "helo", "--format", "json").json()
    assert (doc["result"], doc["domain"], doc["identity"]) == ("pass", "helo.example.com", "helo")


def test_check_temperror_is_unknown_not_a_problem() -> None:
    res = run_cli("spf", "check", "192.0.2.1", "x@slow.test", "--format", "json")
    assert res.json()["result"] == "temperror"
    assert res.code == 0


def test_check_from_log_line() -> None:
    line = ("2026-11-28 09:12:01 H=(mail.example.net) [203.0.113.9]:43210 F=<alice@example.com> rejected RCPT "
            "<bob@example.org>: SPF check failed.")
    doc = run_cli("spf", "check", "--from-line", line, "--format", "json").json()
    assert (doc["ip"], doc["sender"], doc["helo"], doc["result"]) == ("203.0.113.9", "alice@example.com",
                                                                     "mail.example.net", "fail")
    assert doc["source_line"] == line


def test_check_from_bounce_file(tmp_path: Path) -> None:
    bounce = tmp_path / "bounce.eml"
    bounce.write_text("Subject: Undelivered Mail\n\nThe mail system\n\n<bob@gmail.com>: host gmail-smtp-in.l.google.com"
                      " said:\n    550-5.7.26 This mail has been blocked because the sender is unauthenticated.\n"
                      "    SPF [example.com] with ip: [203.0.113.9] = did not pass\n")
    doc = run_cli("spf", "check", "--from-file", str(bounce), "--format", "json").json()
    assert doc["ip"] == "203.0.113.9" and doc["domain"] == "example.com" and doc["result"] == "fail"


@pytest.mark.parametrize("args", [
    ["spf", "check", "not-an-ip", "a@example.com"],
    ["spf", "check"],
    ["spf", "check", "--from-line", "nothing about spf here"],
    ["spf", "check", "192.0.2.1", ""],
    ["spf", "lint", "localhost"],
    ["spf", "build", "example.com"],
    ["spf", "build", "example.com", "--ip", "300.1.1.1"],
    ["spf", "build", "example.com", "--from-log", "/nonexistent/mainlog"],
    ["spf", "check", "--from-file", "/nonexistent/bounce"],
])
def test_bad_input_is_one_line_exit_2(args: list[str]) -> None:
    res = run_cli(*args)
    assert res.code == 2, (res.out, res.err)
    assert len(res.err.strip().splitlines()) == 1 and res.err.startswith("maildoctor: error:")


def test_lint_finds_the_problems_with_positions() -> None:
    res = run_cli("spf", "lint", "broken.test", "--format", "json")
    assert res.code == 1
    ids = {f["id"] for f in res.json()["findings"]}
    assert {"spf.lint.multiple_records", "spf.lint.syntax"} <= ids
    syntax = next(f for f in res.json()["findings"] if f["id"] == "spf.lint.syntax")
    assert "Position 21" in syntax["explanation"]  # the "/33"


def test_lint_good_record_tree_text() -> None:
    res = run_cli("spf", "lint", "example.com")
    assert res.code == 0, res.out
    assert "include:_spf.mailer.test  1" in res.out
    assert "2/10 DNS lookups" in res.out
    assert "spf.lint.ok" in res.out


def test_lint_draft_record() -> None:
    res = run_cli("spf", "lint", "example.com", "--record", "v=spf1 ptr +all", "--format", "json")
    ids = {f["id"] for f in res.json()["findings"]}
    assert {"spf.lint.ptr", "spf.lint.all_pass"} <= ids


def test_build_from_log(tmp_path: Path) -> None:
    log = tmp_path / "mainlog.gz"
    with gzip.open(log, "wt") as fh:
        fh.write("2026-11-28 09:00:00 1tA2bC-0004Xy-Ab <= alice@example.com H=web.example.org [203.0.113.7]:1 "
                 "P=esmtp S=100\n"
                 "2026-11-28 09:00:01 1tA2bC-0004Xy-Ac <= news@example.com H=(n) [198.51.100.9]:1 P=esmtp S=1\n"
                 "2026-11-28 09:00:02 1tA2bC-0004Xy-Ad <= bob@example.com H=(laptop) [203.0.113.99]:1 P=esmtpsa "
                 "A=dovecot_login:bob S=100\n"
                 "2026-11-28 09:00:03 1tA2bC-0004Xy-Ae <= eve@other.org H=x [203.0.113.66]:1 P=esmtp S=1\n")
    res = run_cli("spf", "build", "example.com", "--mx", "--include", "_spf.mailer.test", "--from-log", str(log),
                  "--format", "json")
    doc = res.json()
    assert doc["record"] == "v=spf1 mx ip4:203.0.113.7 include:_spf.mailer.test ~all"
    assert {v["ip"]: v["result"] for v in doc["verification"]} == {"203.0.113.7": "pass", "198.51.100.9": "pass"}
    assert doc["zone_line"] == f'example.com. 3600 IN TXT "{doc["record"]}"'
    ids = [f["id"] for f in doc["findings"]]
    assert "spf.build.published_misses" in ids  # 203.0.113.7 fails with the record in DNS today
    assert res.code == 1


def test_lint_long_draft_record_string_and_size() -> None:
    draft = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(1, 40)) + " -all"
    doc = run_cli("spf", "lint", "example.com", "--record", draft, "--format", "json").json()
    by_id = {f["id"]: f for f in doc["findings"]}
    assert "spf.lint.string_too_long" in by_id and "spf.lint.udp_size" in by_id
    fix = by_id["spf.lint.string_too_long"]["fix"][0]
    assert fix.startswith('Publish: example.com. IN TXT "v=spf1 ') and '" "' in fix


def test_observed_senders_count_our_interface_not_the_remote_host() -> None:
    from maildoctor.spf.observed import analyze_lines

    lines = [
        "2026-11-28 09:12:36 [1] 1xXEU0-0004yB-1e <= sales@alice-shop.test H=(laptop) [198.51.100.10]:1 P=esmtpsa "
        "A=plain:sales S=500",
        "2026-11-28 09:12:37 [1] 1xXEU0-0004yB-1e ** buyer@remote.test F=<sales@alice-shop.test> R=dnslookup "
        "T=remote_smtp H=mx.remote.test [192.0.2.20]:25 I=[192.0.2.10]:58151: SMTP error from remote mail server "
        "after pipelined end of data: 554 5.7.1 Message rejected as spam",
        "2026-11-28 09:12:38 [1] 1xXEU0-0004yC-1e <= sales@alice-shop.test U=sales P=local S=500",
        "2026-11-28 09:12:39 [1] 1xXEU0-0004yC-1e => buyer@remote.test R=dnslookup T=remote_smtp "
        "H=mx.remote.test [192.0.2.20]:25 I=[192.0.2.11]:58152 C=\"250 OK\"",
        "2026-11-28 09:12:40 [2] H=(x) [203.0.113.5]:1 F=<fake@alice-shop.test> rejected RCPT <a@alice-shop.test>: "
        "SPF check failed",
    ]
    seen = analyze_lines(lines, "alice-shop.test")
    assert dict(seen.senders) == {"192.0.2.10": 1, "192.0.2.11": 1}
    assert dict(seen.rejected) == {"203.0.113.5": 1}  # a refused claim is never added to the record


def test_fail_suggests_a_record_that_passes() -> None:
    doc = run_cli("spf", "check", "203.0.113.9", "alice@example.com", "--format", "json").json()
    fix = doc["findings"][0]["fix"][0]
    suggested = fix.split('--record "')[1].rstrip('"')
    assert "ip4:203.0.113.9 -all" in suggested
    again = run_cli("spf", "check", "203.0.113.9", "alice@example.com", "--record", suggested, "--format", "json")
    assert again.json()["result"] == "pass"
