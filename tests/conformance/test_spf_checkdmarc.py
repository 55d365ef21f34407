"""checkdmarc's SPF record-parsing cases through `spf lint` (DNS from a stub: only the tested record exists).

Each case's assertions are mapped to what lint must (or must not) report. Cases whose outcome
depends on third parties' live records (nested provider includes) or on a checkdmarc-only
heuristic (parked domains) are counted separately and printed, never silently dropped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from maildoctor.net.dns import ZoneResolver
from maildoctor.spf.lint import lint_domain
from maildoctor.spf.record import parse_record

pytestmark = pytest.mark.conformance

DOMAIN = "example.com"
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unquote(record: str) -> str:
    parts = _QUOTED.findall(record)
    return "".join(parts) if parts and record.strip().startswith('"') else record


def _expectations(case: dict[str, Any]) -> list[str]:
    text = " ".join(case["assertions"])
    out = []
    if "SPFSyntaxError" in text:
        out.append("syntax")
    if "SPFTooManyVoidDNSLookups" in text:
        out.append("void_limit")
    if "SPFRecordNotFound" in text:
        out.append("no_record")
    if "can't be UTF-8 encoded" in case["doc"]:
        out.append("syntax")  # a lone surrogate is not 7-bit ASCII: permerror, and lint must not crash
    if "SPFIncludeLoop" in text:
        out.append("loop")
    if "len(results['warnings']), 0" in text:
        out.append("clean")
    if "['all'], '" in text:
        out.append("all:" + text.split("['all'], '")[1].split("'")[0])
    if "ptr mechanism should not be used" in text:
        out.append("ptr")
    if "does not have any MX records" in text:
        out.append("void_lookup")
    if "The domain does not exist" in text:
        out.append("include_no_record")
    if "warning, parsed_record['warnings']" in text and "after" in case["doc"].lower():
        out.append("after_all")
    m = re.search(r"\['dns_lookups'\], (\d+)", text)
    if m:
        out.append(f"lookups:{m.group(1)}")
    return out


def _cases(corpora: Path) -> list[dict[str, Any]]:
    data = json.loads((corpora / "dmarc-spf-record-parsing-checkdmarc" / "expected.json").read_text())
    return [c for c in data if c["test_file"] != "test_dmarc.py" and c["records"]]


def test_checkdmarc_spf_cases(corpora: Path) -> None:
    checked = 0
    live_only: list[str] = []
    failures: list[str] = []
    for case in _cases(corpora):
        wants = _expectations(case)
        if not wants or "SPFTooManyDNSLookups" in " ".join(case["assertions"]):
            live_only.append(case["test"])
            continue
        for raw in case["records"]:
            record = _unquote(raw)
            zone: dict[str, list[Any]] = {DOMAIN: [{"TXT": record}]}
            report = lint_domain(ZoneResolver(zone), DOMAIN)
            ids = {f.id.removeprefix("spf.lint.") for f in report.findings}
            for want in wants:
                if want == "clean":
                    ok = not any(f.severity.is_problem for f in report.findings)
                elif want.startswith("all:"):
                    alls = [t for t in parse_record(record).mechanisms if t.name == "all"]
                    ok = bool(alls) and alls[0].result == want[4:]
                elif want.startswith("lookups:"):
                    ok = report.lookups == int(want[8:])
                else:
                    ok = want in ids
                if not ok:
                    failures.append(f"{case['test']}: {record!r} expected {want}, lint gave {sorted(ids)} "
                                    f"({report.lookups} lookups)")
            checked += 1
    print(f"\ncheckdmarc SPF cases: {checked} records checked, {len(failures)} failed; "
          f"{len(live_only)} need the providers' live records: {', '.join(live_only)}")
    assert checked >= 40
    assert not failures, "\n".join(failures)
