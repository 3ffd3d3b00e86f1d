"""Batch benchmark: flat memory with return_results=False, and where processes=N pays off.

    python -m scripts.bench.batch --rows 1000000          # memory over a million rows
    python -m scripts.bench.batch --processes-rows 400    # CPU-bound parsing, 1 vs N processes

Every row goes through a real LangChain fake chat model and is logged by a ParquetLogger; the
rows read back from Parquet are checked against the rows sent (exit code 1 if they differ).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pyarrow.dataset as ds
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from parquet_logger import ParquetLogger, batch_run, with_tags


class ParsingChat(FakeListChatModel):
    """A fake model whose response parsing is CPU-bound (`work` rounds of SHA-256), as a
    model with heavy structured-output parsing is: the case where processes beat threads."""

    work: int = 20000  # about 10 ms of CPU per row

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        digest = str(messages[-1].content).encode()
        for _ in range(self.work):
            digest = hashlib.sha256(digest).digest()
        return await super()._agenerate(messages, stop, run_manager, **kw)


def rows(n: int, prefix: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": [f"question {i}" for i in range(n)],
            "config": [with_tags(custom_id=f"{prefix}{i}") for i in range(n)],
        }
    )


def logged_rows(log_dir: Path) -> int:
    table = ds.dataset(log_dir, format="parquet", partitioning="hive").to_table(
        columns=["custom_id", "event_type"]
    )
    return table.num_rows


def memory_run(n_rows: int, base: Path) -> bool:
    """One DataFrame of `n_rows` rows through batch_run with return_results=False, sampling
    the process's memory while it runs: the growth must not depend on the number of rows."""
    log_dir = base / "memory"
    logger = ParquetLogger(log_dir, event_types=["chat_model_start", "llm_end"])
    llm = FakeListChatModel(responses=["an answer"])
    df = rows(n_rows, "m")
    me = psutil.Process()
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            info = me.memory_full_info()
            samples.append((time.perf_counter(), info.rss, info.uss))

    before = me.memory_full_info()
    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    asyncio.run(
        batch_run(
            df,
            llm,
            max_concurrency=50,
            return_results=False,
            show_progress=False,
            callbacks=[logger],
        )
    )
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    logger.close()
    mb = 2**20
    print(f"{n_rows:,} rows in {elapsed:.0f} s ({n_rows / elapsed:,.0f} rows/s)")
    print(f"before: RSS {before.rss / mb:.0f} MB, USS {before.uss / mb:.0f} MB (the DataFrame in)")
    for when, rss, uss in samples[:: max(1, len(samples) // 8)]:
        print(f"  at {when - started:5.0f} s: RSS {rss / mb:.0f} MB, USS {uss / mb:.0f} MB")
    if samples:
        # RSS, not USS: the ring's pages count as private until the writer maps them too.
        peak = max(rss for _, rss, _ in samples)
        print(f"peak RSS growth during the run: {(peak - before.rss) / mb:+.1f} MB")
    found = logged_rows(log_dir)
    print(f"rows logged: {found:,} (expected {2 * n_rows:,})")
    return found == 2 * n_rows


def processes_run(n_rows: int, counts: list[int], base: Path) -> bool:
    """The same CPU-bound batch with 1 and N worker processes: wall time and speed-up."""
    ok = True
    baseline = 0.0
    for processes in counts:
        log_dir = base / f"processes-{processes}"
        logger = ParquetLogger(log_dir, event_types=["chat_model_start", "llm_end"])
        started = time.perf_counter()
        results = asyncio.run(
            batch_run(
                rows(n_rows, f"p{processes}-"),
                ParsingChat(responses=["ok"]),
                max_concurrency=20,
                show_progress=False,
                callbacks=[logger],
                processes=processes,
            )
        )
        elapsed = time.perf_counter() - started
        logger.close()
        baseline = baseline or elapsed
        found = logged_rows(log_dir)
        ok = ok and found == 2 * n_rows and results is not None and len(results) == n_rows
        print(
            f"processes={processes}: {elapsed:6.2f} s, {n_rows / elapsed:7.1f} rows/s, "
            f"speed-up {baseline / elapsed:4.2f}x, rows logged {found}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the memory run")
    parser.add_argument("--processes-rows", type=int, default=1000)
    parser.add_argument(
        "--processes", type=int, nargs="+", default=[1, max(2, os.cpu_count() or 2)]
    )
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pql-bench-batch-") as tmp:
        base = Path(tmp)
        ok = True
        if not args.skip_memory:
            ok = memory_run(args.rows, base) and ok
        ok = processes_run(args.processes_rows, args.processes, base) and ok
    print("correctness:", "rows read back = rows sent" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
