"""The OpenSPF RFC 7208 and RFC 4408 test suites through the zone-data stub resolver.

Each YAML document is a section with its own zone data; a test passes when the result is one of
the accepted results and, when the suite gives one, the explanation is the same text.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from maildoctor.net.dns import ZoneResolver
from maildoctor.spf.evaluator import check_host

pytestmark = pytest.mark.conformance

# pyspf's ad-hoc suite (test.yml) tests two pyspf extensions that RFC 7208 does not have:
# the "default=" modifier. RFC 7208 §6: "unrecognized modifiers MUST be ignored", so
# "v=spf1 default=-" is neutral, not fail/ambiguous.
PYSPF_EXTENSIONS = {"default-modifier", "default-modifier-harsh"}


def _sections(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def run_suite(path: Path, skip: frozenset[str] = frozenset()) -> tuple[Counter[str], Counter[str], list[str]]:
    """(passed per section, total per section, failure lines)."""
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    failures: list[str] = []
    for doc in _sections(path):
        section = doc.get("description") or ((doc.get("comment") or "").strip().splitlines() or ["(untitled)"])[0]
        resolver = ZoneResolver(doc.get("zonedata") or {})
        for name, t in doc["tests"].items():
            if name in skip:
                continue
            want = [t["result"]] if isinstance(t["result"], str) else list(t["result"])
            res = check_host(resolver, t["host"], t["mailfrom"], t["helo"], default_explanation="DEFAULT",
                             receiver="receiver.com", timestamp=1234567890)
            total[section] += 1
            ok = res.result in want and ("explanation" not in t or t["explanation"] == res.explanation)
            if ok:
                passed[section] += 1
            else:
                failures.append(f"{section} / {name} [{t.get('spec')}]: want {want} {t.get('explanation', '')!r}, "
                                f"got {res.result} {res.explanation!r} ({res.problem})")
    return passed, total, failures


def _report(name: str, passed: Counter[str], total: Counter[str]) -> None:
    print(f"\n{name}: {sum(passed.values())}/{sum(total.values())}")
    for section in total:
        print(f"  {passed[section]:>3}/{total[section]:<3} {section}")


def test_rfc7208_suite_all_203(corpora: Path) -> None:
    passed, total, failures = run_suite(corpora / "spf-pyspf-testsuite" / "rfc7208-tests.yml")
    _report("rfc7208-tests.yml", passed, total)
    assert sum(total.values()) == 203
    assert len(total) == 16
    assert not failures, "\n".join(failures)


def test_rfc4408_suite(corpora: Path) -> None:
    # Where RFC 7208 changed a rule the 4408 suite lists both answers, so every test must pass.
    passed, total, failures = run_suite(corpora / "spf-pyspf-testsuite" / "rfc4408-tests.yml")
    _report("rfc4408-tests.yml", passed, total)
    assert sum(total.values()) == 191
    assert not failures, "\n".join(failures)


def test_pyspf_adhoc_suite(corpora: Path) -> None:
    passed, total, failures = run_suite(corpora / "spf-pyspf-testsuite" / "test.yml", frozenset(PYSPF_EXTENSIONS))
    _report("test.yml (pyspf ad-hoc, minus 2 pyspf-only extensions)", passed, total)
    assert sum(total.values()) == 14
    assert not failures, "\n".join(failures)


def test_expected_tsv_agrees_with_yaml(corpora: Path) -> None:
    """The flattened expected.tsv carries the same 7208 answers as the YAML we run."""
    rows = (corpora / "spf-pyspf-testsuite" / "expected.tsv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split("\t")
    recs = [dict(zip(header, r.split("\t"), strict=False)) for r in rows[1:]]
    rfc7208 = [r for r in recs if r["file"].startswith("rfc7208")]
    assert len(rfc7208) == 203
