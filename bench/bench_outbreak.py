"""Benchmark `maildoctor outbreak` (the full report) against eximstats on the same generated log.

    python -m bench.bench_outbreak                       # ~1 GiB outbreak log (generated once into bench/out/)
    python -m bench.bench_outbreak --messages 100000 --runs 3

The log comes from bench/eximgen (scenario "outbreak", mixed 16/23-character ids) with ground
truth. Each tool runs `--runs` times; the best time counts, peak RSS is the largest process of
the tool's tree (wait4). With the optional C accelerator built, maildoctor also runs once more
without it (MAILDOCTOR_PURE_PYTHON=1; --no-pure skips that) and the two reports must be equal.
It also checks the answer: the rank of each seeded outbreak source among the suspects
and the severity of each legitimate bulk sender (must not be critical).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.eximgen import GroundTruth, generate

OUT = Path(__file__).resolve().parent / "out"


@dataclass
class Run:
    seconds: float
    rss_mb: float
    stdout: bytes
    code: int
    cpu: float = 0.0  # user + system seconds of the whole process tree


def run_once(argv: list[str], env: dict[str, str] | None = None) -> Run:
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = p.stdout.read() if p.stdout else b""
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return Run(time.perf_counter() - t, usage.ru_maxrss / 1024, out, p.returncode, usage.ru_utime + usage.ru_stime)


def best(argv: list[str], runs: int, env: dict[str, str] | None = None) -> Run:
    results = [run_once(argv, env) for _ in range(runs)]
    fastest = min(results, key=lambda r: r.seconds)
    return Run(fastest.seconds, max(r.rss_mb for r in results), fastest.stdout, fastest.code, fastest.cpu)


def ensure_log(messages: int, seed: int, ids: str) -> tuple[Path, GroundTruth]:
    OUT.mkdir(exist_ok=True)
    log = OUT / f"outbreak-m{messages}-s{seed}-{ids}"
    gt_path = log.with_name(log.name + ".gt.json")
    if not (log.is_file() and gt_path.is_file()):
        print(f"generating {messages} messages into {log} (once; reused later) ...", flush=True)
        gt = generate(log, messages=messages, seed=seed, id_format=ids, scenario="outbreak")
        gt.messages = {}
        gt.save(gt_path)
    return log, GroundTruth.load(gt_path)


def truth_keys(src: dict[str, str]) -> list[tuple[str, str]]:
    if src["kind"] == "script":
        return [("script", src["value"]), ("local_user", src["user"]), ("sender", src["sender"].lower())]
    return [("auth_login", src["value"]), ("sender", src["value"].lower())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1_300_000, help="messages in the generated log (~1 GiB)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ids", default="mixed", choices=["old", "new", "mixed"])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-pure", action="store_true", help="skip the extra run without the C accelerator")
    a = ap.parse_args()
    log, gt = ensure_log(a.messages, a.seed, a.ids)
    size = log.stat().st_size
    print(f"log: {log} ({size / 2**20:.0f} MiB)")
    md = shutil.which("maildoctor") or "maildoctor"
    from maildoctor.outbreak import fastscan

    accel = fastscan.USE_ACCEL
    print(f"C accelerator: {'used' if accel else 'not built or disabled: pure-Python scanner'}")
    load_before = os.getloadavg()
    pure = None
    with tempfile.TemporaryDirectory() as empty_root:
        argv = [md, "outbreak", "--log", str(log), "--root", empty_root, "--format", "json"]
        ours = best(argv, a.runs)
        if accel and not a.no_pure:
            pure = best(argv, a.runs, {**os.environ, "MAILDOCTOR_PURE_PYTHON": "1"})
    if ours.code not in (0, 1):
        sys.exit(f"maildoctor outbreak failed (exit {ours.code})")
    if pure is not None and json.loads(pure.stdout) != json.loads(ours.stdout):
        print("WARNING: the pure-Python scanner gave a different report")
    theirs = best(["eximstats", str(log)], a.runs) if shutil.which("eximstats") else None
    doc = json.loads(ours.stdout)
    suspects = doc["suspects"]
    rank = {(s["source"]["kind"], s["source"]["value"]): i for i, s in enumerate(suspects)}
    related = {k for src in gt.outbreak_sources for k in truth_keys(src)}
    unrelated = [i for i, s in enumerate(suspects) if (s["source"]["kind"], s["source"]["value"]) not in related]
    first_unrelated = unrelated[0] if unrelated else len(suspects)
    print(
        f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after: "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall times on a busy machine understate a 2-worker tool)"
    )
    print(f"\n{'tool':<34}{'seconds':>10}{'CPU s':>10}{'peak RSS MB':>14}")
    print(f"{'maildoctor outbreak':<34}{ours.seconds:>10.2f}{ours.cpu:>10.2f}{ours.rss_mb:>14.0f}")
    if pure is not None:
        print(f"{'maildoctor outbreak (pure Python)':<34}{pure.seconds:>10.2f}{pure.cpu:>10.2f}{pure.rss_mb:>14.0f}")
    if theirs is not None:
        print(f"{'eximstats':<34}{theirs.seconds:>10.2f}{theirs.cpu:>10.2f}{theirs.rss_mb:>14.0f}")
        print(
            f"\nspeed-up vs eximstats: {theirs.seconds / ours.seconds:.1f}x wall, {theirs.cpu / ours.cpu:.1f}x CPU "
            f"(target >= 10x); peak RSS {ours.rss_mb:.0f} MB (target < 300 MB)"
        )
        if pure is not None:
            print(f"pure-Python scanner vs eximstats: {theirs.seconds / pure.seconds:.1f}x wall")
    print("\naccuracy:")
    for src in gt.outbreak_sources:
        key = truth_keys(src)[0]
        r = rank.get(key)
        s = suspects[r] if r is not None else None
        ok = r is not None and r < first_unrelated and s is not None and s["severity"] == "critical"
        where = f"rank {r + 1}, score {s['score']}, {s['severity']}, {s['messages']} messages" if s else "not found"
        print(f"  outbreak {key[0]} {key[1]}: {where} -> {'OK' if ok else 'MISSED'}")
    for src in gt.legit_bulk_sources:
        keys = [("script", src["value"])] if src["kind"] == "script" else [("auth_login", src["value"])]
        for key in keys:
            s = suspects[rank[key]] if key in rank else None
            sev = s["severity"] if s else "not listed"
            print(
                f"  legit {key[0]} {key[1]}: {sev}{' (score ' + str(s['score']) + ')' if s else ''}"
                f" -> {'OK' if sev != 'critical' else 'FLAGGED CRITICAL'}"
            )


if __name__ == "__main__":
    main()
