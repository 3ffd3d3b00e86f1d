"""Today's schema of a log directory, for plain readers of a directory that holds files of
several schema versions (they take the first file's schema unless given one)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from parquet_logger_daemon.schema import SCHEMA

from parquet_logger.columns import PARTITION_KEYS


def dataset_schema(partition_keys: Sequence[str] = ("date",)) -> pa.Schema:
    """The columns of today's schema version plus the hive keys of the layout (as strings),
    e.g. `pd.read_parquet("logs", schema=dataset_schema())` or
    `ds.dataset("logs", schema=dataset_schema(), partitioning="hive")`: rows of older files
    read as nulls in the columns they lack, and integer columns as pandas' `Int64`.

    Args:
        partition_keys: the layout's hive keys: ("date",) (the default layout),
            ("event_type",), ("date", "event_type") or () for a flat directory.

    Raises:
        ValueError: a key that is not "date" or "event_type".
    """
    keys = (partition_keys,) if isinstance(partition_keys, str) else tuple(partition_keys)
    unknown = [k for k in keys if k not in PARTITION_KEYS]
    if unknown:
        raise ValueError(
            f"partition_keys must be among {PARTITION_KEYS}, got {unknown!r} in {partition_keys!r}"
        )
    fields = [f for f in SCHEMA if f.name not in keys]
    return pa.schema([*fields, *(pa.field(k, pa.string()) for k in keys)], metadata=SCHEMA.metadata)
