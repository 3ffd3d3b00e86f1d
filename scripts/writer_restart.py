"""How long a log directory is without a writer after its writer is SIGKILLed.

A producer (this process) attaches and starts a writer; each round SIGKILLs the live writer
and times until its successor serves the ring (its pid in the ring header, set once it has
recovered), then until an event logged right after the kill is in Parquet. Prints each round
and the median and maximum of both.

    python scripts/writer_restart.py [--rounds 10] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from parquet_logger import ParquetLogger
from parquet_logger.transport.ring import Ring
from parquet_logger.transport.statedir import StateDir


def wait_until(predicate: Callable[[], bool], timeout_s: float) -> None:
    """Poll `predicate` every millisecond; raise after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("no writer came back")
        time.sleep(0.001)


def one_round(logger: ParquetLogger, ring: Ring) -> tuple[float, float]:
    """SIGKILL the writer; seconds until a new one serves the ring, and until a record
    logged right after the kill is in Parquet."""
    old = ring.writer_pid
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    logger.log_event("custom_event", {"after": old})
    wait_until(lambda: ring.writer_pid not in (0, old), 60)
    serving = time.monotonic() - killed
    logger.flush(timeout=60)
    return serving, time.monotonic() - killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    log_dir = args.dir or Path(tempfile.mkdtemp(prefix="writer-restart-")) / "logs"
    with ParquetLogger(log_dir, flush_interval_s=0.1) as logger:
        logger.log_event("custom_event", {"start": True})
        logger.flush(timeout=60)
        ring = Ring.attach(StateDir.for_log_dir(log_dir))
        assert ring is not None
        serving, written = [], []
        for n in range(args.rounds):
            wait_until(lambda: ring.writer_pid != 0, 60)
            time.sleep(1.0)  # a writer that lived a while: restarted at once, no back-off
            s, w = one_round(logger, ring)
            serving.append(s)
            written.append(w)
            print(f"round {n + 1}: serving after {s:.2f} s, event in Parquet after {w:.2f} s")
        ring.close()
    for name, values in (("serving", serving), ("in Parquet", written)):
        print(f"{name}: median {statistics.median(values):.2f} s, max {max(values):.2f} s")


if __name__ == "__main__":
    main()
