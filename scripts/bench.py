"""Side-by-side benchmark of parquet_logger ("ours") and langchain-callback-parquet-logger
4.0.0 ("theirs") on identical, seeded, realistic LangChain events.

    python scripts/bench.py --quick                 # every scenario, small, under a minute
    python scripts/bench.py --json /tmp/bench.json  # the full run (a few minutes)

Scenarios (the two systems interleaved, A B A B, medians over repetitions):
  hot_path   N events straight into the handler: per-call latency, CPU/event of every
             process involved (our writer included) until everything is durable
  langchain  a FakeListChatModel invoked N times with no handler, a no-op handler and each
             logger: the logger's added cost per invoke, until its files are on disk
  fleet      P = 1, 2, 4, 8 spawned workers into one directory: events/s until durable,
             files, bytes, rows read back, duplicates, peak memory of workers and writer
  read_back  the largest fleet directory read whole with pandas and with pyarrow
  idle       CPU of a writer (and of the producer process) with nothing to do
  sustained  memory growth of one producer logging as fast as it can

Every scenario reads its directory back: rows == events sent, no duplicates, every file
readable. The exit code is 1 when such a check fails, never because a speed target is
missed. CPU used by other processes during each scenario is printed, so noise is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Spawned workers re-run this file as `__mp_main__`: at module level it imports only the
# standard library, so that a worker's time and memory are its own logger's.

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
SCENARIOS = ("hot_path", "langchain", "fleet", "read_back", "idle", "sustained")


@dataclass(frozen=True)
class Plan:
    """How much of each scenario to run."""

    reps: int
    hot_runs: int  # two events per run
    hot_warmup_runs: int
    langchain_invokes: int
    langchain_warmup: int
    fleet_sizes: tuple[int, ...]
    fleet_runs: int  # per worker; two events per run
    fleet_reps: int
    read_back_repeats: int
    idle_s: float
    sustain_warmup_runs: int  # enough for ours to wrap its 128 MiB ring (~3.9 KB/event) once
    sustain_s: float


FULL = Plan(
    reps=3,
    hot_runs=100_000,
    hot_warmup_runs=500,
    langchain_invokes=5_000,
    langchain_warmup=100,
    fleet_sizes=(1, 2, 4, 8),
    fleet_runs=5_000,
    fleet_reps=2,
    read_back_repeats=3,
    idle_s=10.0,
    sustain_warmup_runs=20_000,
    sustain_s=15.0,
)
QUICK = Plan(
    reps=2,
    hot_runs=2_500,
    hot_warmup_runs=100,
    langchain_invokes=300,
    langchain_warmup=20,
    fleet_sizes=(1, 8),
    fleet_runs=250,
    fleet_reps=1,
    read_back_repeats=1,
    idle_s=2.0,
    sustain_warmup_runs=18_000,
    sustain_s=2.0,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark parquet_logger against langchain-callback-parquet-logger 4.0.0.",
        epilog="Exit codes: 0 all correctness checks passed; 1 a check failed; 2 bad usage.",
    )
    parser.add_argument("--quick", action="store_true", help="every scenario, small (< 1 min)")
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
    from scripts import bench_report, bench_run

    say = bench_run.say
    say(
        f"parquet_logger vs langchain-callback-parquet-logger 4.0.0 "
        f"({'quick' if args.quick else 'full'} run, {os.cpu_count()} cores)"
    )
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="pql-bench-"))
    try:
        results = bench_run.run(plan, args.only, args.seed, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = bench_report.build_figures(results, plan.fleet_sizes)
    gate, info = bench_report.correctness(results)
    gate["harness.clean_shutdown"] = not results["harness_problems"]
    ok = all(gate.values())
    say()
    for line in bench_report.table(figures):
        say(line)
    say()
    say("CPU used by other processes during each scenario (median, in cores):")
    for line in bench_report.noise_lines(results):
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
            "meta": {
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "cores": os.cpu_count(),
                "quick": args.quick,
                "seed": args.seed,
                "plan": asdict(plan),
                "elapsed_s": time.monotonic() - started,
            },
            "figures": [f.as_json() for f in figures],
            "correctness": gate,
            "correctness_ok": ok,
            "theirs_multiprocess_integrity": info,
            "results": results,
        }
        args.json.write_text(json.dumps(document, indent=2, default=str))
    return EXIT_OK if ok else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
