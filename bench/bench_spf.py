"""SPF evaluations per second, maildoctor vs pyspf, over the whole OpenSPF suites, same stub, same run.

    python -m bench.bench_spf [--rounds N] [--corpora DIR]

Both evaluators read the suite's zone data through the same `ZoneResolver` (pyspf through its
`spf.DNSLookup` hook), evaluate every test of rfc7208-tests.yml and rfc4408-tests.yml, and repeat
that N rounds, alternating who goes first. Prints evaluations/s for each, the ratio, how many
tests each gets right, and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import spf
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maildoctor.net.dns import ZoneResolver
from maildoctor.spf.evaluator import check_host
from tests.unit.spf.pyspf_peer import pyspf_lookup

SUITES = ("rfc7208-tests.yml", "rfc4408-tests.yml")


def load_cases(corpora: Path) -> list[tuple[ZoneResolver, dict[str, Any]]]:
    cases = []
    for name in SUITES:
        with (corpora / "spf-pyspf-testsuite" / name).open(encoding="utf-8") as fh:
            for doc in yaml.safe_load_all(fh):
                if not doc:
                    continue
                resolver = ZoneResolver(doc.get("zonedata") or {}, record_queries=False)
                cases += [(resolver, t) for t in doc["tests"].values()]
    return cases


def run_ours(cases: list[tuple[ZoneResolver, dict[str, Any]]]) -> int:
    right = 0
    for resolver, t in cases:
        res = check_host(resolver, t["host"], t["mailfrom"], t["helo"], default_explanation="DEFAULT")
        right += res.result in ([t["result"]] if isinstance(t["result"], str) else t["result"])
    return right


def run_pyspf(cases: list[tuple[ZoneResolver, dict[str, Any]]]) -> int:
    right = 0
    old = spf.DNSLookup
    try:
        for resolver, t in cases:
            spf.DNSLookup = pyspf_lookup(resolver)
            q = spf.query(i=t["host"], s=t["mailfrom"], h=t["helo"])
            q.set_default_explanation("DEFAULT")
            res = q.check()[0]
            res = {"unknown": "permerror", "error": "temperror"}.get(res, res)
            right += res in ([t["result"]] if isinstance(t["result"], str) else t["result"])
    finally:
        spf.DNSLookup = old
    return right


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    default = Path(os.environ.get("MAILDOCTOR_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
    ap.add_argument("--corpora", type=Path, default=default)
    args = ap.parse_args()
    cases = load_cases(args.corpora)
    timings = {"maildoctor": 0.0, "pyspf": 0.0}
    right = {"maildoctor": 0, "pyspf": 0}
    runners = {"maildoctor": run_ours, "pyspf": run_pyspf}
    for r in range(args.rounds):
        order = ["maildoctor", "pyspf"] if r % 2 == 0 else ["pyspf", "maildoctor"]
        for who in order:
            start = time.perf_counter()
            right[who] = runners[who](cases)
            timings[who] += time.perf_counter() - start
    n = len(cases) * args.rounds
    rate = {who: n / t for who, t in timings.items()}
    print(f"cases per round: {len(cases)} ({' + '.join(SUITES)}), rounds: {args.rounds}")
    for who in ("maildoctor", "pyspf"):
        print(f"{who:>10}: {rate[who]:10.0f} evaluations/s   {right[who]}/{len(cases)} suite results right")
    print(f"     ratio: maildoctor/pyspf = {rate['maildoctor'] / rate['pyspf']:.2f}x")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
