"""What the benchmark measures besides time: CPU of other processes, memory, latency
percentiles, and what a log directory holds (the correctness checks read it back)."""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

MB = 1024 * 1024


def system_busy_s() -> float:
    """CPU seconds all processes of the machine have used (all cores, boot to now)."""
    t = psutil.cpu_times()
    busy = t.user + t.system
    for extra in ("nice", "irq", "softirq"):
        busy += getattr(t, extra, 0.0)
    return float(busy)


def own_cpu_s() -> float:
    """This process's CPU seconds, plus those of children it has reaped."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system + t.children_user + t.children_system)


@dataclass
class CpuWindow:
    """System-wide CPU during a scenario, split into the benchmark's and everyone else's.

    The benchmark's share is this process (and its reaped children) plus whatever the
    scenario adds through `add_bench_s` (the writer, worker processes): the rest of the
    machine's busy time is other processes, shown so that noise is visible.
    """

    wall0: float = 0.0
    busy0: float = 0.0
    own0: float = 0.0
    extra_s: float = 0.0

    @classmethod
    def start(cls) -> CpuWindow:
        return cls(time.monotonic(), system_busy_s(), own_cpu_s())

    def add_bench_s(self, seconds: float) -> None:
        self.extra_s += seconds

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.wall0
        busy = system_busy_s() - self.busy0
        bench = own_cpu_s() - self.own0 + self.extra_s
        others = max(0.0, busy - bench)
        return {
            "wall_s": wall,
            "bench_cpu_s": bench,
            "others_cpu_s": others,
            "others_cores": others / wall if wall > 0 else 0.0,
        }


def percentiles_us(latencies_ns: Sequence[int]) -> dict[str, float]:
    """p50, p99, p99.9 and max of per-call latencies, in microseconds (nearest rank)."""
    ordered = sorted(latencies_ns)
    n = len(ordered)

    def rank(q: float) -> float:
        return ordered[min(n - 1, max(0, math.ceil(q * n) - 1))] / 1e3

    return {
        "p50_us": rank(0.50),
        "p99_us": rank(0.99),
        "p999_us": rank(0.999),
        "max_us": ordered[-1] / 1e3,
        "mean_us": sum(ordered) / n / 1e3,
    }


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def median_of(reps: Sequence[dict[str, Any]], key: str) -> float:
    """The median of `key` over repetitions (keys may be dotted: "latency.p50_us")."""
    values = []
    for rep in reps:
        value: Any = rep
        for part in key.split("."):
            value = value[part]
        values.append(float(value))
    return median(values)


def uss_bytes(process: psutil.Process) -> int:
    """Unique set size: memory that only this process holds (0 if it is gone)."""
    try:
        return int(process.memory_full_info().uss)
    except psutil.Error:
        return 0


class MemorySampler:
    """Samples RSS and USS of some processes from a thread of this one (so that the sampled
    processes pay nothing) and keeps each one's peak."""

    def __init__(self, period_s: float = 0.25) -> None:
        self._period_s = period_s
        self._processes: dict[int, psutil.Process] = {}
        self.peak_rss: dict[int, int] = {}
        self.peak_uss: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def watch(self, pid: int) -> None:
        with self._lock:
            try:
                self._processes[pid] = psutil.Process(pid)
            except psutil.Error:
                return

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        with self._lock:
            processes = list(self._processes.items())
        for pid, process in processes:
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue
            self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), int(info.rss))
            self.peak_uss[pid] = max(self.peak_uss.get(pid, 0), int(info.uss))

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            self.sample()


# ---------------------------------------------------------------------- the log directory
def parquet_files(log_dir: Path) -> list[Path]:
    """Data files under `log_dir` (not the state folder, not in-flight temporaries)."""
    return sorted(
        p
        for p in log_dir.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(log_dir).parts)
    )


def inspect_dir(log_dir: Path, expected_rows: int, has_event_id: bool) -> dict[str, Any]:
    """Read a log directory back (only the id columns) and count what correctness needs:
    files, bytes, rows, duplicates, rows without custom id, unreadable files."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    files = parquet_files(log_dir)
    readable = []
    for path in files:
        try:  # the whole file, not only its footer: a torn write can keep a valid footer
            pq.ParquetFile(path).read()
            readable.append(str(path))
        except Exception:
            pass
    unreadable = len(files) - len(readable)
    columns = ["run_id", "event_type", "custom_id"] + (["event_id"] if has_event_id else [])
    rows = duplicates = duplicate_event_ids = missing_custom_id = 0
    if readable:
        dataset = ds.dataset(
            readable, format="parquet", partitioning="hive", partition_base_dir=str(log_dir)
        )
        table = dataset.to_table(columns=columns)
        rows = table.num_rows
        pairs = table.group_by(["run_id", "event_type"]).aggregate([]).num_rows
        duplicates = rows - pairs
        if has_event_id:
            duplicate_event_ids = rows - len(pc.unique(table["event_id"]))
        missing_custom_id = int(pc.sum(pc.equal(table["custom_id"].fill_null(""), "")).as_py())
    size = sum(p.stat().st_size for p in files)
    return {
        "files": len(files),
        "bytes": size,
        "bytes_per_event": size / rows if rows else 0.0,
        "rows": rows,
        "expected_rows": expected_rows,
        "lost": expected_rows - rows,
        "duplicates": duplicates,
        "duplicate_event_ids": duplicate_event_ids,
        "rows_without_custom_id": missing_custom_id,
        "unreadable_files": unreadable,
    }


def checks_of(found: dict[str, Any], prefix: str) -> dict[str, bool]:
    """The pass/fail facts of one `inspect_dir` result."""
    return {
        f"{prefix}.rows_match": found["rows"] == found["expected_rows"],
        f"{prefix}.no_duplicates": found["duplicates"] == 0 and found["duplicate_event_ids"] == 0,
        f"{prefix}.custom_ids": found["rows_without_custom_id"] == 0,
        f"{prefix}.files_readable": found["unreadable_files"] == 0,
    }


def time_read_back(log_dir: Path, repeats: int) -> dict[str, Any]:
    """Median seconds to read the whole directory with pandas and with pyarrow; when a
    reader fails on the directory (a damaged file: the other package's processes can write
    one file name at once), the error instead, and no time."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    pandas_s, arrow_s, rows = [], [], set()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            frame = pd.read_parquet(log_dir)
            pandas_s.append(time.perf_counter() - t0)
            rows.add(len(frame))
            del frame
            t0 = time.perf_counter()
            table = ds.dataset(log_dir, format="parquet", partitioning="hive").to_table()
            arrow_s.append(time.perf_counter() - t0)
            rows.add(table.num_rows)
            del table
    except (OSError, pa.ArrowException) as exc:
        return {"pandas_s": None, "pyarrow_s": None, "rows": [], "error": str(exc)[:300]}
    return {
        "pandas_s": median(pandas_s),
        "pyarrow_s": median(arrow_s),
        "rows": sorted(rows),
    }
