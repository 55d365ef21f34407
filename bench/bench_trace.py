"""Benchmark `maildoctor trace` against exigrep and grep -F on the same generated Exim log.

    python -m bench.bench_trace                 # 1 GiB log (generated once into bench/out/, then reused)
    python -m bench.bench_trace --size 200M --runs 5

Each tool runs `--runs` times on a warm page cache; the best time counts. Peak RSS is that of the
tool's process tree (wait4). It also checks answers: the traced final status against the
generator's ground truth, and how many lines exigrep finds for an Exim 4.97+ (23-character) id.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.eximgen import GroundTruth, MessageTruth, generate
from maildoctor.logs.seek import base62

OUT = Path(__file__).resolve().parent / "out"
NL = b"\n"
LOCAL = {"shop.example", "client.example", "bakery.example", "lawfirm.example", "news.example", "lists.example",
         "studio.example", "garage.example"}
ENGINE = ("import sys; from maildoctor.logs.trace import trace; "
          "r = trace(sys.argv[1], [sys.argv[2]]); print(len(r.messages))")
MAILDOCTOR = ("maildoctor trace", "trace engine")
NEW_ID = re.compile(r"^[0-9A-Za-z]{6}-[0-9A-Za-z]{11}-[0-9A-Za-z]{4}$")


@dataclass
class Run:
    seconds: float
    rss_mb: float
    stdout: bytes


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not m:
        raise SystemExit(f"bad size {text!r}")
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()])


GNU_TIME = "/usr/bin/time"


# maildoctor runs as an installed package would: from byte-compiled modules (pip compiles them at
# install). This environment may set PYTHONDONTWRITEBYTECODE, which makes every run compile every
# module again; the compiled files go to bench/out/pycache, never into the source tree.
MD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
MD_ENV["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")


def run_once(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Wall time and peak RSS of one run. GNU time measures the RSS: a child forked from this (big)
    process would report this process's pages as its own peak before exec."""
    with tempfile.NamedTemporaryFile("r") as rss:
        wrapped = [GNU_TIME, "-f", "%M", "-o", rss.name, *argv] if os.path.exists(GNU_TIME) else argv
        t = time.perf_counter()
        p = subprocess.run(wrapped, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False, env=env)
        seconds = time.perf_counter() - t
        text = rss.read().strip().splitlines()
    kb = float(text[-1]) if text and text[-1].isdigit() else float("nan")
    return Run(seconds, kb / 1024, p.stdout)


def best(argv: list[str], runs: int, env: dict[str, str] | None = None) -> Run:
    results = [run_once(argv, env) for _ in range(runs)]
    fastest = min(results, key=lambda r: r.seconds)
    return Run(fastest.seconds, max(r.rss_mb for r in results), fastest.stdout)


def log_for(size: int, seed: int) -> tuple[Path, GroundTruth]:
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"mainlog-{size}-s{seed}-mixed"
    meta = log.with_name(log.name + ".truth.json")
    if log.is_file() and meta.is_file():
        return log, GroundTruth.load(meta)
    print(f"generating {size / 2**20:.0f} MiB log into {log} (once; reused later) ...", flush=True)
    t = time.time()
    gt = generate(log, size_bytes=size, seed=seed, id_format="mixed", scenario="outbreak")
    gt.save(meta)
    print(f"  {gt.total_messages:,} messages, {gt.total_lines:,} lines in {time.time() - t:.0f} s", flush=True)
    return log, gt


def warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def pick(gt: GroundTruth, rng: random.Random) -> dict[str, MessageTruth]:
    msgs = sorted(gt.messages.values(), key=lambda m: m.received_at)
    old = [m for m in msgs if not NEW_ID.match(m.id) and m.source_kind != "bounce"]
    new = [m for m in msgs if NEW_ID.match(m.id) and m.source_kind != "bounce"]
    failed_new = [m for m in new if m.final_status == "failed" and m.bounce]
    return {
        "old-format id": rng.choice(old[len(old) // 4: len(old) // 2]),
        "new-format id": rng.choice(new[len(new) // 2:]),
        "new-format id of a bounced message": rng.choice(failed_new or new),
    }


FLOOD_ADDRESS = "spam@flood.example"
def flood_log(size: int) -> Path:
    """A log where every line names one address (a spam run deferred, then delivered): the worst
    case for trace's memory, since every line is a hit and every message a candidate."""
    path = OUT / f"flood-{size}"
    if path.is_file():
        return path
    print(f"generating {size / 2**20:.0f} MiB flood log into {path} (once) ...", flush=True)
    a = FLOOD_ADDRESS
    with path.open("w") as fh:
        i, written = 0, 0
        while written < size:
            mid = f"{base62(1793000000 + i // 10, 6)}-{base62(i, 6)}-{base62(i, 2)}"
            text = (f"2026-11-01 00:00:00 {mid} <= {a} U=shop P=local S=1234 for {a}\n"
                    f"2026-11-01 00:00:01 {mid} == {a} R=dnslookup T=remote_smtp defer (-44): SMTP error from "
                    f"remote mail server after RCPT TO:<{a}>: 451 try later\n"
                    f"2026-11-01 00:05:00 {mid} => {a} R=dnslookup T=remote_smtp H=mx.flood.example "
                    f"[192.0.2.1] C=\"250 OK\"\n")
            fh.write(text)
            written += len(text)
            i += 1
    return path


def flood_case(size: int, maildoctor: str, exigrep: str | None) -> None:
    log = flood_log(size)
    warm(log)
    print(f"\nmemory worst case: {log} ({log.stat().st_size / 2**20:.0f} MiB), every line names {FLOOD_ADDRESS}")
    md = best([maildoctor, "trace", FLOOD_ADDRESS, "--log", str(log), "--format", "json"], 1, MD_ENV)
    doc = json.loads(md.stdout or b"{}")
    print(f"  maildoctor trace  {md.seconds:7.2f} s  peak RSS {md.rss_mb:6.1f} MB  "
          f"{len(doc.get('messages', []))} msgs +{doc.get('more_messages')}")
    if exigrep:
        x = best([exigrep, re.escape(FLOOD_ADDRESS), str(log)], 1)
        print(f"  exigrep           {x.seconds:7.2f} s  peak RSS {x.rss_mb:6.1f} MB  "
              f"{x.stdout.count(NL)} lines  (exigrep/trace = {x.seconds / md.seconds:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1G", help="log size (default 1G)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--flood", default="600M",
                    help="size of a second log where every line names one address (memory worst case; 0: skip)")
    a = ap.parse_args()
    size = parse_size(a.size)
    log, gt = log_for(size, a.seed)
    exigrep = shutil.which("exigrep") or ("/usr/sbin/exigrep" if Path("/usr/sbin/exigrep").exists() else None)
    # the console script pip installed next to this interpreter: a version manager's shim on PATH
    # (pyenv's is a bash script running `pyenv exec`) adds ~70 ms that is not maildoctor's
    beside = Path(sys.executable).with_name("maildoctor")
    maildoctor = str(beside) if beside.is_file() else shutil.which("maildoctor") or sys.argv[0]
    rng = random.Random(a.seed)
    cases = pick(gt, rng)
    # addresses a user would ask about: a remote correspondent (a few messages) and a busy local
    # mailbox (thousands: trace follows the first --limit of them and counts the rest)
    sample = sorted(gt.messages.values(), key=lambda m: m.id)
    remote = next(a for m in sample if m.source_kind == "smtp-auth" for a in m.recipients
                  if a.split("@")[1] not in LOCAL)
    busy = next(m.sender for m in sample if m.source_kind == "smtp-auth" and m.sender.split("@")[1] in LOCAL)
    warm(log)
    # one untimed run writes the byte-compiled modules (as `pip install` would have)
    run_once([maildoctor, "trace", "nobody@nowhere.invalid", "--log", os.devnull], MD_ENV)
    run_once([sys.executable, "-c", ENGINE, "nobody@nowhere.invalid", os.devnull], MD_ENV)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (timings are noisy when busy)")
    from maildoctor.logs import scan

    print(f"C accelerator of the log scanner: {'yes' if scan.use_accel() else 'NO (pure-Python path)'}; "
          f"console script: {maildoctor}; modules byte-compiled into {MD_ENV['PYTHONPYCACHEPREFIX']}")
    mib = log.stat().st_size / 2**20
    print(f"\nlog: {log} ({mib:.0f} MiB, {gt.total_lines:,} lines), best of {a.runs}, warm cache")
    print(f"{'query':52} {'tool':18} {'seconds':>8} {'peak RSS MB':>12} {'lines/messages':>15}")
    rows: list[tuple[str, dict[str, Run]]] = []
    queries = [(k, m.id, m) for k, m in cases.items()]
    queries += [(f"address, few msgs ({remote})", remote, None), (f"address, busy ({busy})", busy, None)]
    failures = 0
    for label, q, truth in queries:
        tools: dict[str, list[str]] = {"grep -F": ["grep", "-F", q, str(log)]}
        if exigrep:
            tools["exigrep"] = [exigrep, re.escape(q) if "@" in q else q, str(log)]
        tools["maildoctor trace"] = [maildoctor, "trace", q, "--log", str(log), "--format", "json"]
        # the same engine without the CLI's start-up (it imports every command module)
        tools["trace engine"] = [sys.executable, "-c", ENGINE, q, str(log)]
        # exigrep takes seconds per run: one run is enough to compare
        res = {name: best(argv, 1 if name == "exigrep" else a.runs, MD_ENV if name in MAILDOCTOR else None)
               for name, argv in tools.items()}
        rows.append((label, res))
        for name, r in res.items():
            if name == "maildoctor trace":
                doc = json.loads(r.stdout or b"{}")
                more = doc.get("more_messages")
                count = f"{len(doc.get('messages', []))} msgs" + (f" +{more}" if more else "")
            elif name == "trace engine":
                count = r.stdout.decode().strip() + " msgs"
            else:
                count = f"{r.stdout.count(NL)} lines"
            print(f"{label:52} {name:18} {r.seconds:8.3f} {r.rss_mb:12.1f} {count:>15}")
        if truth is not None:
            doc = json.loads(res["maildoctor trace"].stdout)
            story = next((m for m in doc["messages"] if m["id"] == truth.id), None)
            got = story["final_status"] if story else "missing"
            got_rcpts = {r["address"]: r["status"] for r in story["recipients"]} if story else {}
            ok = got == truth.final_status and got_rcpts == truth.recipients
            failures += not ok
            related = story["related"] if story else []
            print(f"{'':52} check: final status {got} (truth {truth.final_status}), recipients "
                  f"{'match' if got_rcpts == truth.recipients else 'DIFFER'}; related {related} "
                  f"(truth bounce {truth.bounce})")
    print("\nratios (best times):")
    for label, res in rows:
        t = res["maildoctor trace"].seconds
        e = res["trace engine"].seconds
        parts = [f"trace/grep -F = {t / res['grep -F'].seconds:.1f}x (engine {e / res['grep -F'].seconds:.1f}x)"]
        if "exigrep" in res:
            x = res["exigrep"].seconds
            parts.append(f"exigrep/trace = {x / t:.1f}x (engine {x / e:.1f}x)")
        print(f"  {label:52} " + ", ".join(parts))
    peak = max(res[k].rss_mb for _, res in rows for k in ("maildoctor trace", "trace engine"))
    print(f"  peak RSS of maildoctor trace: {peak:.0f} MB")
    if parse_size(a.flood):
        flood_case(parse_size(a.flood), maildoctor, exigrep)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if failures:
        print(f"\n{failures} traced message(s) disagree with the ground truth")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
