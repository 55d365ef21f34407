"""`python -m mdlab up|run|down|exec|status`: the lab for humans (and for generating the demo root)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .lab import Lab, LabError, LabRun, LabUnavailable

STATE = Path(os.environ.get("MDLAB_STATE", "/run/mdlab/lab.json"))


def _save(lab: Lab) -> None:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(lab.state(), indent=2) + "\n")


def _load() -> Lab:
    if not STATE.is_file():
        raise LabError(f"no running lab recorded in {STATE} (start one with `up` or `run --keep`)")
    return Lab.attach(json.loads(STATE.read_text()))


def report(run: LabRun) -> dict[str, Any]:
    scenarios = {}
    for name, sc in run.scenarios.items():
        d = asdict(sc)
        d["files"] = [str(p) for p in sc.files]
        scenarios[name] = d
    return {
        "netns": run.netns,
        "workdir": str(run.workdir),
        "root": str(run.root),
        "mainlog": str(run.mainlog),
        "rejectlog": str(run.rejectlog),
        "postfix_log": str(run.postfix_log),
        "spool": str(run.spool),
        "bounces": [str(p) for p in run.bounces],
        "delay_warnings": [str(p) for p in run.delay_warnings],
        "postfix_bounces": [str(p) for p in run.postfix_bounces],
        "delivered": len(run.delivered),
        "remote_delivered": len(run.remote_delivered),
        "timings_seconds": {k: round(v, 2) for k, v in run.timings.items()},
        "scenarios": scenarios,
    }


def _print_summary(run: LabRun) -> None:
    t = run.timings
    print(f"lab {run.netns}: start-up {t['startup']:.2f}s, scenarios {t['scenarios']:.2f}s")
    print(f"server root snapshot: {run.root}")
    print(f"main log: {run.mainlog}\npostfix log: {run.postfix_log}\nlive spool: {run.spool}")
    print(
        f"bounces: {len(run.bounces)} Exim, {len(run.postfix_bounces)} Postfix; "
        f"delay warnings: {len(run.delay_warnings)}; delivered locally: {len(run.delivered)}"
    )
    for sc in run.scenarios.values():
        ids = ",".join(sc.message_ids[:3]) + ("..." if len(sc.message_ids) > 3 else "")
        print(f"  {sc.name:30} {sc.expected:9} {ids or sc.smtp_response[:60]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mdlab", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the servers and leave them running (stop with `down`)")
    up.add_argument("--workdir", type=Path)
    run = sub.add_parser("run", help="start, run every scenario, print where the outputs are")
    run.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, kept)")
    run.add_argument("--keep", action="store_true", help="leave the servers running (stop with `down`)")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    sub.add_parser("down", help="stop the lab started by `up` or `run --keep`")
    ex = sub.add_parser("exec", help="run a command inside the running lab, e.g. exec -- exim4 -bp")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("status", help="show the running lab, if any")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "up":
            lab = Lab(args.workdir, keep=True)
            lab.start()
            _save(lab)
            print(f"lab {lab.name} up in {lab.startup_seconds:.2f}s; files in {lab.workdir}")
            print("enter it: scripts/lab exec -- bash   (stop it: scripts/lab down)")
        elif args.cmd == "run":
            lab = Lab(args.workdir, keep=True)
            lab.start()
            try:
                result = lab.run_scenarios(lambda msg: print(msg, file=sys.stderr))
            finally:
                if args.keep:
                    _save(lab)
                else:
                    lab.stop()
            if args.json:
                print(json.dumps(report(result), indent=2))
            else:
                _print_summary(result)
        elif args.cmd == "down":
            lab = _load()
            lab.keep = False
            lab.stop()
            STATE.unlink(missing_ok=True)
            print(f"lab {lab.name} stopped")
        elif args.cmd == "exec":
            cmd = [c for c in args.command if c != "--"] or ["bash"]
            res = _load().run(cmd, capture_output=False, text=False, timeout=None)
            return int(res.returncode)
        elif args.cmd == "status":
            print(STATE.read_text() if STATE.is_file() else "no lab running")
    except LabUnavailable as exc:
        print(f"mdlab: lab unavailable: {exc}", file=sys.stderr)
        return 3
    except LabError as exc:
        print(f"mdlab: {exc}", file=sys.stderr)
        return 1
    return 0
