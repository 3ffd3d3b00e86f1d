"""Benchmark of `batch_run(engine="ray")` against `processes=2` on this machine: rows/s, the
per-row overhead on top of the model's latency, and each node writer's CPU share.

    python scripts/bench_ray.py --rows 10000 --latency-ms 20 --max-concurrency 10
    python scripts/bench_ray.py --nodes 2          # two Ray nodes on this machine, a writer each

Every row goes through a real LangChain fake chat model that sleeps `--latency-ms` and is
logged by a ParquetLogger (start and end events); the events read back from Parquet are
checked (one end event per row, else exit code 1). Ray runs on 127.0.0.1 only, with its files
in a temporary folder. Per-row overhead = elapsed x rows in flight / rows - latency, where rows
in flight = 2 workers (processes, or Ray tasks on 2 CPUs) x max_concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pyarrow.dataset as ds
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from parquet_logger_daemon import control

from parquet_logger import ParquetLogger, batch_run, with_tags
from parquet_logger.transport.statedir import STATE_FOLDER, StateDir

WORKERS = 2  # processes=2, or Ray tasks on a 2-CPU Ray: the same rows in flight
EVENTS = ["chat_model_start", "llm_end", "llm_error"]
LOOPBACK = "127.0.0.1"


class LatencyChat(FakeListChatModel):
    """A fake chat model with a fixed latency: it answers "ok" after `latency_s`."""

    responses: list[str] = ["ok"]  # noqa: RUF012 - a pydantic field default
    latency_s: float = 0.02

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        await asyncio.sleep(self.latency_s)
        return await super()._agenerate(messages, stop, run_manager, **kw)


@dataclass(frozen=True)
class Measure:
    name: str
    rows: int
    seconds: float
    overhead_ms: float
    writer_cpu: dict[str, float]  # node directory -> writer CPU seconds / elapsed seconds

    def line(self) -> str:
        shares = ", ".join(f"{100 * v:.1f}%" for v in self.writer_cpu.values()) or "n/a"
        return (
            f"{self.name:<22} {self.rows:>7,} rows {self.seconds:7.2f} s "
            f"{self.rows / self.seconds:9,.0f} rows/s  overhead {self.overhead_ms:6.2f} ms/row  "
            f"writer CPU per node: {shares}"
        )


def frame(rows: int, tag: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": [f"question {i}" for i in range(rows)],
            "config": [with_tags(custom_id=f"{tag}-{i}") for i in range(rows)],
        }
    )


def writer_pids(root: Path) -> dict[str, int]:
    """The live writer of each log directory under `root`, by directory."""
    found = {}
    for state_folder in root.rglob(STATE_FOLDER):
        state = StateDir.for_log_dir(state_folder.parent)
        pid = control.writer_pid(state)
        if pid is not None:
            found[str(state.log_dir)] = pid
    return found


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    return 0.0


def measure(
    name: str, root: Path, rows: int, latency_s: float, concurrency: int, run: Callable[[], None]
) -> Measure:
    """Time `run`, and the CPU the writers under `root` used meanwhile (also those it started)."""
    before = {d: cpu_seconds(pid) for d, pid in writer_pids(root).items()}
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    after = {d: cpu_seconds(pid) for d, pid in writer_pids(root).items()}
    shares = {d: (after[d] - before.get(d, 0.0)) / seconds for d in after}
    overhead_ms = 1000 * (seconds * WORKERS * concurrency / rows - latency_s)
    return Measure(name, rows, seconds, overhead_ms, shares)


def check_logged(root: Path, tag: str, rows: int) -> bool:
    """Every row of the run tagged `tag` has exactly one end event under `root`."""
    files = [str(p) for p in root.rglob("*.parquet") if STATE_FOLDER not in p.parts]
    table = ds.dataset(files, format="parquet").to_table(columns=["custom_id", "event_type"])
    df = table.to_pandas()
    ends = df[df["event_type"].isin(["llm_end", "llm_error"])]
    ends = ends[ends["custom_id"].str.startswith(f"{tag}-")]
    per_row = ends.groupby("custom_id").size()
    ok = len(per_row) == rows and set(per_row) == {1}
    if not ok:
        print(f"  {tag}: {len(per_row)} rows logged of {rows}, {len(ends)} end events")
    return ok


@contextlib.contextmanager
def local_ray(temp: Path, nodes: int) -> Iterator[float]:
    """A Ray of `nodes` nodes (one CPU each for 2 nodes, else 2 CPUs) on 127.0.0.1; yields
    its start-up time."""
    # Read when ray is imported: Ray then binds to the loopback address, not the interface's.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_TMPDIR"] = str(temp)
    (temp / "ray").mkdir(exist_ok=True)
    import ray

    started = time.perf_counter()
    cluster: Any = None
    if nodes == 1:
        ray.init(
            num_cpus=WORKERS,
            include_dashboard=False,
            _node_ip_address=LOOPBACK,
            _temp_dir=str(temp / "ray"),
            log_to_driver=False,
        )
    else:
        from ray.cluster_utils import Cluster

        node = {"num_cpus": WORKERS // nodes, "node_ip_address": LOOPBACK}
        cluster = Cluster(
            initialize_head=True,
            head_node_args={**node, "include_dashboard": False, "temp_dir": str(temp / "ray")},
        )
        for _ in range(nodes - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield time.perf_counter() - started
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-concurrency", type=int, default=10)
    parser.add_argument("--nodes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where the logs go (temporary)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TQDM_DISABLE", "1")
    latency_s = args.latency_ms / 1000
    temp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    root = args.dir or temp / "logs"
    model = LatencyChat(latency_s=latency_s)
    common: dict[str, Any] = {"max_concurrency": args.max_concurrency, "show_progress": False}
    print(
        f"{args.rows:,} rows, model latency {args.latency_ms:g} ms, max_concurrency "
        f"{args.max_concurrency}, {WORKERS} workers, {psutil.cpu_count()} CPUs"
    )
    results: list[Measure] = []
    ok = True

    logger = ParquetLogger(root / "processes", event_types=EVENTS)

    def processes() -> None:
        asyncio.run(
            batch_run(frame(args.rows, "p"), model, callbacks=[logger], processes=2, **common)
        )
        logger.flush()

    results.append(
        measure("processes=2", root, args.rows, latency_s, args.max_concurrency, processes)
    )
    logger.close()
    ok &= check_logged(root / "processes", "p", args.rows)

    with local_ray(temp, args.nodes) as startup_s:
        print(f"Ray start-up ({args.nodes} node(s)): {startup_s:.1f} s (not in the figures)")
        ray_logger = ParquetLogger(root / "ray-driver", event_types=EVENTS)
        node_dirs = str(root / "ray-nodes" / "node-{node_id}")

        def on_ray(rows: int, tag: str) -> Callable[[], None]:
            def run() -> None:
                asyncio.run(
                    batch_run(
                        frame(rows, tag),
                        model,
                        callbacks=[ray_logger],
                        engine="ray",
                        ray_log_dir=node_dirs,
                        **common,
                    )
                )

            return run

        on_ray(200, "warm")()  # starts the workers and each node's writer
        results.append(
            measure(
                f'engine="ray" ({args.nodes} node)',
                root / "ray-nodes",
                args.rows,
                latency_s,
                args.max_concurrency,
                on_ray(args.rows, "r"),
            )
        )
        ray_logger.close()
    ok &= check_logged(root / "ray-nodes", "r", args.rows)
    for result in results:
        print(result.line())
    if args.dir is None:
        # Ray is down, so the node writers exit on their own (no worker attached any more).
        deadline = time.monotonic() + 30
        while writer_pids(root) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(temp, ignore_errors=True)  # the logs and Ray's session files
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
