"""Helpers for the lake tests: part files written as the writer writes them, and what the
Delta log and the table say about them."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from parquet_logger_daemon.schema import SCHEMA
from pyarrow import fs as pafs

from parquet_logger.lake.listing import list_part_files
from parquet_logger.lake.source import LakeSource
from parquet_logger.lake.store import filesystem

ROWS_PER_PART = 3
_serial = itertools.count()


def part_table(first_id: int, rows: int = ROWS_PER_PART, drop: tuple[str, ...] = ()) -> pa.Table:
    """Rows of the writer's schema (less the hive keys in `drop`), event ids `e<n>`."""
    base = datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1_000_000
    columns = {}
    for fld in SCHEMA:
        if fld.name == "timestamp":
            columns[fld.name] = pa.array([int(base) + first_id + i for i in range(rows)], fld.type)
        elif fld.name == "event_id":
            columns[fld.name] = pa.array([f"e{first_id + i}" for i in range(rows)], fld.type)
        elif fld.name not in drop:
            columns[fld.name] = pa.nulls(rows, fld.type)
    fields = [f for f in SCHEMA if f.name not in drop]
    return pa.table(columns, schema=pa.schema(fields, metadata=SCHEMA.metadata))


def write_parts(root: Path, count: int, folder: str = "date=2026-12-01") -> list[str]:
    """`count` part files under `root/folder` (writer names, zstd); their relative paths."""
    paths = []
    for _ in range(count):
        n = next(_serial)
        rel = f"{folder}/part-20261201T000000{n:06d}Z-testhost-1-{n:06d}.parquet".lstrip("/")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part_table(n * ROWS_PER_PART), root / rel, compression="zstd")
        paths.append(rel)
    return paths


def log_adds(source: LakeSource) -> Counter[str]:
    """How many times each path was added, over every commit in the Delta log."""
    storage = filesystem(source)
    adds: Counter[str] = Counter()
    selector = pafs.FileSelector("_delta_log", allow_not_found=True)
    for info in storage.get_file_info(selector):
        if not info.path.endswith(".json"):
            continue
        with storage.open_input_stream(info.path) as stream:
            for line in stream.read().splitlines():
                action = orjson.loads(line)
                if "add" in action:
                    adds[action["add"]["path"]] += 1
    return adds


def file_event_ids(source: LakeSource) -> list[str]:
    """The event ids in every listed part file, read file by file (sorted)."""
    storage = filesystem(source)
    ids: list[str] = []
    for part in list_part_files(storage):
        with storage.open_input_file(part.path) as handle:
            ids += pq.read_table(handle, columns=["event_id"])["event_id"].to_pylist()
    return sorted(ids)


def table_event_ids(source: LakeSource) -> list[str]:
    """The event ids the Delta table reads (deltalake -> pyarrow), sorted."""
    table = DeltaTable(source.table_uri, storage_options=source.storage_options())
    return sorted(table.to_pyarrow_table(columns=["event_id"])["event_id"].to_pylist())


def polars_event_ids(source: LakeSource) -> list[str]:
    """The event ids Polars reads from the table (`scan_delta`), sorted."""
    frame = pl.scan_delta(source.table_uri, storage_options=source.storage_options())
    return sorted(frame.select("event_id").collect()["event_id"].to_list())


def assert_registered_once(source: LakeSource) -> None:
    """Every listed part file added exactly once in the log, nothing else added, and the
    table reads exactly the files' rows."""
    adds = log_adds(source)
    listed = [p.path for p in list_part_files(filesystem(source))]
    assert sorted(adds) == sorted(listed)
    assert set(adds.values()) <= {1}, {p: n for p, n in adds.items() if n > 1}
    assert table_event_ids(source) == file_event_ids(source)
