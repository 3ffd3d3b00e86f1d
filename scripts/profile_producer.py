"""Profile the producer's hot path: the benchmark's chat-model start and end events played
into a ParquetLogger, under cProfile (the writer runs in its own process, unprofiled).

    python scripts/profile_producer.py [--runs 5000] [--top 30] [--sort tottime]

Prints the per-event CPU time of the producer and the top functions; use it to find what a
change to the hot path costs before running the side-by-side benchmark (scripts/bench.py).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parquet_logger import ParquetLogger
from scripts.bench.events import Player, make_runs, make_templates
from scripts.bench.model import serialized_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000, help="runs (two events each)")
    parser.add_argument("--top", type=int, default=30, help="functions to list")
    parser.add_argument("--sort", default="tottime", help="pstats sort key")
    parser.add_argument("--no-profile", action="store_true", help="time only")
    args = parser.parse_args()
    templates = make_templates(seed=1)
    player = Player(serialized_model())
    runs = make_runs(1, args.runs, templates, "p")
    with tempfile.TemporaryDirectory() as tmp:
        logger = ParquetLogger(Path(tmp) / "logs", ring_size_bytes=256 << 20)
        try:
            player.play(logger, make_runs(2, 200, templates, "warm"))  # caches, first writes
            t0 = time.process_time()
            if args.no_profile:
                player.play(logger, runs)
            else:
                profile = cProfile.Profile()
                profile.runcall(player.play, logger, runs)
            cpu = time.process_time() - t0
            logger.flush(timeout=60)
        finally:
            logger.close(timeout=60)
    print(f"producer CPU: {cpu / (2 * args.runs) * 1e6:.1f} us/event over {2 * args.runs} events")
    if not args.no_profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
