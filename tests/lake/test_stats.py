"""Delta statistics from a Parquet footer: counts exact, bounds that contain every row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from parquet_logger.lake.stats import MAX_STRING_BOUND_CHARS, file_stats


def stats_of(tmp_path: Path, table: pa.Table, **options: object) -> dict:
    path = tmp_path / "f.parquet"
    pq.write_table(table, path, **options)
    return orjson.loads(file_stats(pq.ParquetFile(path).metadata))


def test_row_count_null_counts_and_bounds_over_row_groups(tmp_path):
    """numRecords, nullCount and min/max are taken over every row group."""
    table = pa.table(
        {
            "n": pa.array([5, None, -2, 9], pa.int64()),
            "s": pa.array(["b", "a", None, "c"]),
            "x": pa.array([0.5, 1.5, None, None]),
        }
    )
    stats = stats_of(tmp_path, table, row_group_size=2)
    assert stats["numRecords"] == 4
    assert stats["nullCount"] == {"n": 1, "s": 1, "x": 2}
    assert stats["minValues"] == {"n": -2, "s": "a", "x": 0.5}
    assert stats["maxValues"] == {"n": 9, "s": "c", "x": 1.5}


def test_timestamp_bounds_are_widened_to_whole_milliseconds(tmp_path):
    """The log keeps milliseconds: the min rounds down and the max up, never inside."""
    kind = pa.timestamp("us", tz="UTC")
    low = datetime(2026, 12, 1, 10, 0, 0, 123_456, tzinfo=UTC)
    high = datetime(2026, 12, 1, 10, 0, 1, 987_001, tzinfo=UTC)
    stats = stats_of(tmp_path, pa.table({"timestamp": pa.array([high, low], kind)}))
    assert stats["minValues"]["timestamp"] == "2026-12-01T10:00:00.123Z"
    assert stats["maxValues"]["timestamp"] == "2026-12-01T10:00:01.988Z"


def test_long_strings_get_no_bounds(tmp_path):
    """A payload-sized string is no bound (and would bloat the log); its nulls still count."""
    long = "x" * (MAX_STRING_BOUND_CHARS + 1)
    stats = stats_of(tmp_path, pa.table({"payload": [long, "short"]}))
    assert "payload" not in stats["minValues"]
    assert "payload" not in stats["maxValues"]
    assert stats["nullCount"] == {"payload": 0}
