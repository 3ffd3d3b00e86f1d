"""The benchmark's command line: parse the options, run the plan, print the table, write the
JSON document, and exit 1 only when a correctness check failed."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from scripts.bench import figures as figures_of
from scripts.bench import report, run
from scripts.bench.plan import FULL, QUICK, SCENARIOS, Plan

EXIT_OK = 0
EXIT_CHECK_FAILED = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench.py",
        description="Benchmark parquet_logger against langchain-callback-parquet-logger 4.0.0.",
        epilog="Exit codes: 0 all correctness checks passed; 1 a check failed; 2 bad usage.",
    )
    parser.add_argument("--quick", action="store_true", help="every scenario, small (< 2 min)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    parser.add_argument("--seed", type=int, default=20261126, help="seed of the events")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 2)")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default all: {','.join(SCENARIOS)})",
    )
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"--only: unknown scenario(s) {sorted(unknown)}; choose from {SCENARIOS}")
    if "read_back" in only and "fleet" not in only:
        parser.error("--only: read_back reads the fleet's directories; add fleet")
    args.only = only
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.reps:
        plan = replace(plan, reps=args.reps)
    say = run.say
    say(
        f"parquet_logger vs langchain-callback-parquet-logger 4.0.0 "
        f"({'quick' if args.quick else 'full'} run, {os.cpu_count()} cores)"
    )
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="pql-bench-"))
    try:
        results = run.run(plan, args.only, args.seed, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = figures_of.build_figures(results, plan.fleet_sizes)
    gate, info = report.correctness(results)
    gate["harness.clean_shutdown"] = not results["harness_problems"]
    ok = all(gate.values())
    say()
    for line in report.table(figures):
        say(line)
    say()
    say("CPU used by other processes during each scenario (median, in cores):")
    for line in report.noise_lines(results):
        say(line)
    failed = [k for k, v in gate.items() if not v]
    theirs_failed = [k for k, v in info.items() if not v]
    if theirs_failed:
        say(f"theirs, multi-process (reported, not gating): failed {theirs_failed}")
    for problem in results["harness_problems"]:
        say(f"harness problem: {problem}")
    say(
        f"correctness: {'all checks passed' if ok else f'FAILED {failed}'} "
        f"({len(gate)} checks); {time.monotonic() - started:.0f} s"
    )
    if args.json:
        document = {
            "meta": meta(plan, args, time.monotonic() - started),
            "figures": [f.as_json() for f in figures],
            "correctness": gate,
            "correctness_ok": ok,
            "theirs_multiprocess_integrity": info,
            "results": results,
        }
        args.json.write_text(json.dumps(document, indent=2, default=str))
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def meta(plan: Plan, args: argparse.Namespace, elapsed_s: float) -> dict[str, Any]:
    """Where and how the figures were measured."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "quick": args.quick,
        "seed": args.seed,
        "plan": asdict(plan),
        "elapsed_s": elapsed_s,
    }
