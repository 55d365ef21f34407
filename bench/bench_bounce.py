"""Bounces per second, maildoctor vs Sisimai (Debian's libsisimai-perl), same mbox, same run.

    python -m bench.bench_bounce [--copies N] [--corpora DIR] [--keep FILE]

Builds one mbox from the Sisimai corpus (maildir/bsd, repeated until it holds at least 1,000
messages), then times, on that same file:
  - Sisimai:    perl -MSisimai -e 'Sisimai->make($mbox)'            (whole process)
  - maildoctor: maildoctor bounce --format json $mbox > /dev/null   (whole process, CLI)
  - maildoctor in-process: mbox split + parse + classify, no start-up
Each peer runs `--rounds` times, alternating who goes first; the best run is kept. Prints wall
and CPU (user+system, from wait4) ms per bounce, the ratios, records found and each process's
peak RSS. CPU time is the steadier figure on a shared machine.

Start-up costs differ (perl loads Sisimai in ~0.03 s; `maildoctor` imports every command of the
CLI, ~0.35 s), so the bench also times a second mbox with twice the messages: the difference
between the two runs is the per-bounce rate without start-up ("marginal rate").
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from maildoctor.bounce.core import parse_bounce
from maildoctor.bounce.sources import read_messages

SISIMAI = (
    "use Sisimai; my $v = Sisimai->make($ARGV[0], delivered => 1, vacation => 1) || []; print scalar(@$v), qq(\\n);"
)


def build_mbox(corpora: Path, out: Path, minimum: int) -> int:
    files = sorted((corpora / "sisimai-set-of-emails" / "data" / "maildir" / "bsd").glob("*.eml"))
    n = 0
    with out.open("wb") as fh:
        while n < minimum:
            for f in files:
                raw = f.read_bytes().replace(b"\r\n", b"\n")
                lines = [b">" + ln if ln.startswith(b"From ") else ln for ln in raw.split(b"\n")]
                fh.write(b"From MAILER-DAEMON Sat Nov 28 08:00:00 2026\n" + b"\n".join(lines).rstrip(b"\n") + b"\n\n")
                n += 1
    return n


def run(argv: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (KiB) and stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{argv[0]} failed with status {status}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, out.decode(errors="replace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=Path(os.environ.get("MAILDOCTOR_CORPORA", "../shared/corpora")))
    ap.add_argument("--minimum", type=int, default=1000, help="at least this many bounces in the mbox")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the mbox here instead of a temporary file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mbox = args.keep or Path(tmp) / "bounces.mbox"
        n = build_mbox(args.corpora, mbox, args.minimum)
        print(f"mbox: {mbox} ({n} messages, {mbox.stat().st_size / 1e6:.1f} MB)")
        double = Path(tmp) / "bounces-x2.mbox"
        double.write_bytes(mbox.read_bytes() * 2)
        best: dict[str, tuple[float, float, int, str]] = {}
        peers = {
            "sisimai": ["perl", "-e", SISIMAI, str(mbox)],
            "maildoctor": ["maildoctor", "bounce", "--format", "json", str(mbox)],
            "sisimai-x2": ["perl", "-e", SISIMAI, str(double)],
            "maildoctor-x2": ["maildoctor", "bounce", "--format", "json", str(double)],
        }
        for i in range(args.rounds):
            order = list(peers) if i % 2 == 0 else list(reversed(peers))
            for name in order:
                got = run(peers[name])
                if name not in best or got[1] < best[name][1]:
                    best[name] = got
        t0, c0 = time.perf_counter(), time.process_time()
        errors: list[str] = []
        records = 0
        for m in read_messages([str(mbox)], errors):
            records += len(parse_bounce(m.raw, m.name).recipients)
        inproc, inproc_cpu = time.perf_counter() - t0, time.process_time() - c0
    s_wall, s_cpu, s_rss, s_out = best["sisimai"]
    m_wall, m_cpu, m_rss, m_out = best["maildoctor"]
    s_records = int(s_out.strip() or 0)
    m_records = m_out.count('"address":')
    own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = [
        ("sisimai (perl, process)", s_wall, s_cpu, s_records, s_rss),
        ("maildoctor (CLI, process)", m_wall, m_cpu, m_records, m_rss),
        ("maildoctor (in-process)", inproc, inproc_cpu, records, own_rss),
    ]
    print(f"{'peer':<27}{'wall s':>8}{'cpu s':>8}{'cpu ms/bounce':>15}{'records':>9}{'peak RSS MiB':>14}")
    for name, wall, cpu, recs, rss in rows:
        print(f"{name:<27}{wall:>8.3f}{cpu:>8.3f}{cpu / n * 1000:>15.3f}{recs:>9}{rss / 1024:>14.1f}")
    s_marginal = (best["sisimai-x2"][1] - s_cpu) / n * 1000
    m_marginal = (best["maildoctor-x2"][1] - m_cpu) / n * 1000
    print(f"marginal CPU ms/bounce (2x mbox minus 1x): sisimai {s_marginal:.3f}, maildoctor {m_marginal:.3f}")
    print(f"speed ratio maildoctor/sisimai, marginal rate, CPU: {s_marginal / m_marginal:.2f}x")
    print(f"speed ratio maildoctor/sisimai, whole process, CPU: {s_cpu / m_cpu:.2f}x (wall {s_wall / m_wall:.2f}x)")
    print(f"speed ratio maildoctor/sisimai, parse only, CPU:    {s_cpu / inproc_cpu:.2f}x "
          f"(wall {s_wall / inproc:.2f}x)")


if __name__ == "__main__":
    main()
