"""Benchmark of the read side: `runs()` (and the report) over N synthetic events.

    python scripts/bench_read.py --events 1000000 --dir /tmp/bench-read [--report out.html]

The events are written directly as Parquet with the writer's real schema (daemon/schema.py),
hive-partitioned by date, ~100,000 rows per file in row groups of 2,048 (as the writer
writes them), with payloads shaped like the logger's
(chains around chat-model calls and tools; usage with cache reads; some errors; one model the
price table does not know). Each measurement runs in a fresh interpreter, so its peak RSS is
its own.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from parquet_logger_daemon.schema import SCHEMA

ROWS_PER_FILE = 100_000
ROW_GROUP_ROWS = 2048  # as the writer appends them
# model, share of calls, median latency (ms), error rate
MODELS = (
    ("gpt-4o-mini", 0.55, 900.0, 0.01),
    ("gpt-4.1", 0.25, 2600.0, 0.02),
    ("claude-sonnet-4-5-20250929", 0.15, 3800.0, 0.015),
    ("acme-local-7b", 0.05, 1500.0, 0.05),
)
PROVIDERS = {"gpt-4o-mini": "openai", "gpt-4.1": "openai",
             "claude-sonnet-4-5-20250929": "anthropic", "acme-local-7b": "acme"}  # fmt: skip
ERRORS = ("openai.RateLimitError", "openai.APITimeoutError", "httpx.ConnectError")
PROMPT = "Summarise the customer's message and classify its intent. " * 8
MESSAGES = [[{"type": "human", "content": PROMPT}]]


class Events:
    """Rows of the real schema, accumulated column by column."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}

    def add(self, ts_us: int, run: str, parent: str, cid: str, kind: str, **typed: Any) -> None:
        data = typed.pop("data", {})
        tags = [f"logger_custom_id:{cid}"]
        payload = {
            "event_type": kind,
            "timestamp": datetime.fromtimestamp(ts_us / 1e6, UTC).isoformat(),
            "execution": {"run_id": run, "parent_run_id": parent or None, "custom_id": cid,
                          "tags": tags, "metadata": {}},
            "data": data,
            "raw": typed.pop("raw", {}),
        }  # fmt: skip
        row = {
            "timestamp": ts_us, "run_id": run, "parent_run_id": parent, "custom_id": cid,
            "event_type": kind, "logger_metadata": "{}", "payload": orjson.dumps(payload).decode(),
            "event_id": str(uuid.uuid4()), "host": "bench", "pid": 1, "schema_version": 1,
        }  # fmt: skip
        row.update(typed)
        for name, values in self.columns.items():
            values.append(row.get(name))

    def __len__(self) -> int:
        return len(self.columns["timestamp"])

    def table(self) -> pa.Table:
        arrays = dict(self.columns)
        arrays["timestamp"] = pa.array(arrays["timestamp"], pa.int64()).cast(
            SCHEMA.field("timestamp").type
        )
        return pa.table(
            {f.name: pa.array(arrays[f.name], f.type) if f.name != "timestamp" else arrays[f.name]
             for f in SCHEMA}
        )  # fmt: skip


def one_trace(out: Events, rng: random.Random, t_us: int, cid: str) -> None:
    """A chain around one to three chat-model calls and sometimes a tool."""
    root = str(uuid.uuid4())
    out.add(t_us, root, "", cid, "chain_start", run_type="chain", name="AnswerChain",
            data={"inputs": {"question": PROMPT[:200]}})  # fmt: skip
    now, failed = t_us + 300, None
    for _ in range(rng.choice((1, 1, 2, 3))):
        model, _, median, error_rate = rng.choices(MODELS, weights=[m[1] for m in MODELS])[0]
        run = str(uuid.uuid4())
        out.add(now, run, root, cid, "chat_model_start", run_type="chat_model", name="ChatModel",
                model=model, provider=PROVIDERS[model],
                data={"messages": MESSAGES, "model": model})  # fmt: skip
        latency_ms = rng.lognormvariate(0, 0.5) * median
        now += int(latency_ms * 1000)
        if rng.random() < error_rate:
            failed = rng.choice(ERRORS)
            out.add(now, run, root, cid, "llm_error", run_type="chat_model", name="ChatModel",
                    model=model, latency_ms=latency_ms, error_type=failed,
                    data={"error": {"type": failed, "message": "try again later"}})  # fmt: skip
            break
        tin, tout = rng.randint(300, 1500), rng.randint(20, 400)
        cached = rng.choice((0, 0, 256))
        usage = {"input_tokens": tin, "output_tokens": tout, "total_tokens": tin + tout,
                 "input_token_details": {"cache_read": cached}}  # fmt: skip
        out.add(now, run, root, cid, "llm_end", run_type="chat_model", name="ChatModel",
                model=model, latency_ms=latency_ms, input_tokens=tin, output_tokens=tout,
                total_tokens=tin + tout, data={"text": "The customer asks for a refund.",
                "usage": usage}, raw={"response": {"generations": [[{"message":
                {"usage_metadata": usage}}]]}})  # fmt: skip
        if rng.random() < 0.3:
            tool = str(uuid.uuid4())
            out.add(now, tool, root, cid, "tool_start", run_type="tool", name="lookup_order",
                    data={"input_str": "order 1234"})  # fmt: skip
            took_us = rng.randint(2_000, 80_000)
            now += took_us
            out.add(now, tool, root, cid, "tool_end", run_type="tool", name="lookup_order",
                    latency_ms=took_us / 1000, data={"output": "shipped"})  # fmt: skip
    kind = "chain_error" if failed else "chain_end"
    out.add(now + 200, root, "", cid, kind, run_type="chain", name="AnswerChain",
            latency_ms=(now + 200 - t_us) / 1000, error_type=failed,
            data={"outputs": "done"} if not failed else {"error": {"type": failed}})  # fmt: skip


def generate(directory: Path, n_events: int, hours: float, seed: int) -> None:
    """Write about `n_events` events spread over `hours`, hive-partitioned by UTC date."""
    rng = random.Random(seed)
    start_us = int(datetime(2026, 11, 30, 6, tzinfo=UTC).timestamp() * 1e6)
    step_us = int(hours * 3600e6 / (n_events / 5))
    out, written, part, t_us, i = Events(), 0, 0, start_us, 0
    while written + len(out) < n_events:
        one_trace(out, rng, t_us, f"row-{i % 50_000:05d}")
        t_us += int(rng.expovariate(1.0) * step_us)
        i += 1
        if len(out) >= ROWS_PER_FILE:
            written += _flush(directory, out, part)
            out, part = Events(), part + 1
    if len(out):
        written += _flush(directory, out, part)
    print(f"wrote {written:,} events in {part + 1} files to {directory}")  # noqa: T201


def _flush(directory: Path, out: Events, part: int) -> int:
    table = out.table()
    day = datetime.fromtimestamp(out.columns["timestamp"][0] / 1e6, UTC).strftime("%Y-%m-%d")
    folder = directory / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    name = folder / f"part-{part:06d}-bench-1.parquet"
    pq.write_table(table, name, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return table.num_rows


MEASURE = """
import json, resource, sys, time
from parquet_logger.read import runs
from parquet_logger.read.cost import PriceTable
from parquet_logger.read.report import write_report
from parquet_logger.read.runs import build_runs
from parquet_logger.read.scan import Filters
from parquet_logger.read.source import open_source
from parquet_logger.read.sql import connect
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if sys.argv[2] == "runs":
    df = runs(sys.argv[1], text=sys.argv[3] == "text")
    rows = len(df)
elif sys.argv[2] == "table":  # the DuckDB stage alone: runs built, no pandas frame
    con = connect()
    build_runs(con, open_source(sys.argv[1]), Filters(), PriceTable.default(), text=False)
    rows = con.execute("SELECT count(*) FROM runs").fetchall()[0][0]
else:
    write_report(sys.argv[1], sys.argv[3]); rows = 0
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "rows": rows, "peak_rss_mb": peak / 1024,
                  "rss_before_mb": base / 1024}))
"""


def measure(directory: Path, *what: str) -> dict[str, Any]:
    """One measurement in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(directory), *what],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-read"))
    parser.add_argument("--hours", type=float, default=36.0, help="time span of the events")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report", type=Path, help="also time writing this HTML report")
    args = parser.parse_args()
    if not any(args.dir.rglob("*.parquet")):
        started = time.perf_counter()
        generate(args.dir, args.events, args.hours, args.seed)
        print(f"generated in {time.perf_counter() - started:.1f} s")  # noqa: T201
    size = sum(p.stat().st_size for p in args.dir.rglob("*.parquet")) / 2**20
    print(f"source: {args.dir} ({size:.0f} MiB of Parquet)")  # noqa: T201
    for what, mode, name in (
        ("runs", "text", "runs()"),
        ("runs", "notext", "runs(text=False)"),
        ("table", "-", "runs table in DuckDB, no pandas"),
    ):
        r = measure(args.dir, what, mode)
        print(  # noqa: T201
            f"{name}: {r['rows']:,} runs in {r['seconds']:.1f} s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB (after imports {r['rss_before_mb']:.0f} MB)"
        )
    if args.report:
        r = measure(args.dir, "report", str(args.report))
        print(  # noqa: T201
            f"report: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
            f"{args.report.stat().st_size / 1024:.0f} KiB"
        )


if __name__ == "__main__":
    main()
