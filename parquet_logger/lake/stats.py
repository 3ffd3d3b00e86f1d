"""Delta file statistics (`numRecords`, `nullCount`, `minValues`, `maxValues`) from a Parquet
footer, so that the table knows each file's row count and can skip files by time without
reading them. Only the footer is read: the files are registered as they are."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

# Longer strings get no min/max: a truncated max would not bound the column (and a payload
# as a bound would bloat the log).
MAX_STRING_BOUND_CHARS = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIT_PER_S = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def file_stats(metadata: pq.FileMetaData) -> str:
    """The Delta `stats` JSON of one Parquet file.

    A column gets a null count only if every row group records one, and bounds only if
    every row group holding a value records them (a flat schema: leaf i is field i).
    """
    schema = metadata.schema.to_arrow_schema()
    null_counts: dict[str, int] = {}
    mins: dict[str, Any] = {}
    maxes: dict[str, Any] = {}
    for index, field in enumerate(schema):
        groups = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
        column = [(g.column(index).statistics, g.num_rows) for g in groups]
        if not all(s is not None and s.has_null_count for s, _ in column):
            continue
        null_counts[field.name] = sum(s.null_count for s, _ in column)
        # A row group of nulls only has no bounds and needs none.
        bounded = [s for s, rows in column if s.null_count < rows]
        if not bounded or not all(s.has_min_max for s in bounded):
            continue
        bounds = _bounds(field.type, [s.min for s in bounded], [s.max for s in bounded])
        if bounds is not None:
            mins[field.name], maxes[field.name] = bounds
    stats = {
        "numRecords": metadata.num_rows,
        "minValues": mins,
        "maxValues": maxes,
        "nullCount": null_counts,
    }
    return orjson.dumps(stats).decode()


def _bounds(kind: pa.DataType, lows: list[Any], highs: list[Any]) -> tuple[Any, Any] | None:
    """Min and max in the form the Delta log stores them, or None when not worth it."""
    low, high = min(lows), max(highs)
    if pa.types.is_timestamp(kind):
        return _timestamp_bounds(low, high, kind)
    if pa.types.is_integer(kind):
        return int(low), int(high)
    if pa.types.is_floating(kind):
        return (float(low), float(high)) if math.isfinite(low) and math.isfinite(high) else None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        short = len(low) <= MAX_STRING_BOUND_CHARS and len(high) <= MAX_STRING_BOUND_CHARS
        return (low, high) if short else None
    return None


def _timestamp_bounds(low: Any, high: Any, kind: pa.TimestampType) -> tuple[str, str]:
    # The log keeps milliseconds (as delta-rs and Spark write them): round the lower bound
    # down and the upper bound up, so that no row lies outside them.
    per_s = _UNIT_PER_S[kind.unit]
    low_ms = _as_units(low, kind) * 1000 // per_s
    high_ms = -(-_as_units(high, kind) * 1000 // per_s)
    return _iso_ms(low_ms), _iso_ms(high_ms)


def _as_units(value: Any, kind: pa.TimestampType) -> int:
    """A footer bound (a datetime, or an int in the column's unit) in the column's unit."""
    if isinstance(value, int):
        return value
    return int(pa.scalar(value, type=kind).value)


def _iso_ms(milliseconds: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=milliseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
