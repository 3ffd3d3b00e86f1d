"""Benchmark of a long job's steady trickle: files written and the time to read them back.

    python scripts/bench_trickle.py [--rate 50] [--seconds 180] [--quick] [--json out.json]

Every system gets the same trickle at the same time, each from its own thread into its own log
directory (LLM start and end callbacks, alternately, `--rate` events per second for
`--seconds`), then is closed, and its directory is read back with pandas and with pyarrow.
Systems: `ours` (parquet_logger, default settings), `ours-1s` (flush_interval_s=1, the former
default) and the same directory after `parquet-logger-daemon compact`, and `theirs`
(langchain-callback-parquet-logger 4.0.0, default settings).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds
from langchain_core.outputs import Generation, LLMResult

READS = 3  # read-back timings per directory: the best is reported


def open_handler(system: str, log_dir: Path) -> Any:
    """A callback handler of `system` logging into `log_dir`."""
    if system == "theirs":
        from langchain_callback_parquet_logger import (  # type: ignore[import-untyped]
            ParquetLogger as TheirLogger,
        )

        return TheirLogger(str(log_dir))
    from parquet_logger import ParquetLogger

    if system == "ours-1s":
        return ParquetLogger(log_dir, flush_interval_s=1.0)
    return ParquetLogger(log_dir)


def close_handler(system: str, handler: Any) -> None:
    """Each package's documented way to finish: close (ours), the context exit (theirs)."""
    if system == "theirs":
        handler.__exit__(None, None, None)
    else:
        handler.close(120.0)


def trickle(handler: Any, rate: float, seconds: float, start: float) -> int:
    """Alternate llm_start/llm_end events at `rate` per second until `seconds` have passed."""
    period = 1.0 / rate
    sent = 0
    run_id = uuid.uuid4()
    while True:
        due = start + sent * period
        if due - start >= seconds:
            return sent
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if sent % 2 == 0:
            run_id = uuid.uuid4()
            handler.on_llm_start({"name": "fake"}, [f"question {sent}"], run_id=run_id)
        else:
            result = LLMResult(generations=[[Generation(text=f"answer {sent}")]])
            handler.on_llm_end(result, run_id=run_id)
        sent += 1


def data_files(log_dir: Path) -> list[Path]:
    """Parquet files a reader of the directory sees (no state folder, no dot-files)."""
    return [
        p
        for p in log_dir.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(log_dir).parts)
    ]


def best_of(read: Callable[[], int]) -> tuple[float, int]:
    """The fastest of READS runs of `read` (seconds) and the rows it returned."""
    times, rows = [], 0
    for _ in range(READS):
        t0 = time.perf_counter()
        rows = read()
        times.append(time.perf_counter() - t0)
    return min(times), rows


def measure(label: str, log_dir: Path) -> dict[str, Any]:
    """Files, bytes and read-back times of one directory."""
    files = data_files(log_dir)
    pandas_s, rows = best_of(lambda: len(pd.read_parquet(log_dir)))
    arrow_s, _ = best_of(lambda: ds.dataset(log_dir, partitioning="hive").to_table().num_rows)
    return {
        "system": label,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "rows": rows,
        "read_pandas_ms": round(pandas_s * 1000, 1),
        "read_pyarrow_ms": round(arrow_s * 1000, 1),
    }


def compact(log_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "parquet_logger_daemon", "compact", "--dir", str(log_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def run(rate: float, seconds: float, base: Path) -> list[dict[str, Any]]:
    """Trickle into every system at once; then close them and measure their directories."""
    systems = ("ours", "ours-1s", "theirs")
    dirs = {system: base / system for system in systems}
    handlers = {system: open_handler(system, dirs[system]) for system in systems}
    sent: dict[str, int] = {}
    start = time.monotonic() + 0.5  # every thread starts its schedule at the same instant

    def play(system: str) -> None:
        sent[system] = trickle(handlers[system], rate, seconds, start)

    threads = [threading.Thread(target=play, args=(s,)) for s in systems]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for system in systems:
        close_handler(system, handlers[system])
    results = [measure(system, dirs[system]) | {"events": sent[system]} for system in systems]
    compact(dirs["ours-1s"])
    results.append(measure("ours-1s + compact", dirs["ours-1s"]) | {"events": sent["ours-1s"]})
    return results


def table(results: list[dict[str, Any]], rate: float, seconds: float) -> str:
    lines = [
        f"trickle: {rate:g} events/s for {seconds:g} s (LLM start/end callbacks)",
        f"{'system':<20}{'events':>8}{'rows':>8}{'files':>7}{'KiB':>8}"
        f"{'pandas ms':>11}{'pyarrow ms':>12}",
    ]
    for r in results:
        lines.append(
            f"{r['system']:<20}{r['events']:>8}{r['rows']:>8}{r['files']:>7}"
            f"{r['bytes'] / 1024:>8.0f}{r['read_pandas_ms']:>11}{r['read_pyarrow_ms']:>12}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the trickle")
    parser.add_argument("--quick", action="store_true", help="20 s instead of --seconds")
    parser.add_argument("--dir", type=Path, help="where the log directories go (default: tmp)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    seconds = 20.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory(prefix="bench-trickle-") as tmp:
        base = args.dir or Path(tmp)
        results = run(args.rate, seconds, base)
    sys.stdout.write(table(results, args.rate, seconds) + "\n")
    if args.json:
        args.json.write_text(
            json.dumps({"rate": args.rate, "seconds": seconds, "results": results})
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
