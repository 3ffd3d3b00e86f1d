"""Part files of an earlier schema version in today's form, so that compaction leaves a
partition in one schema (plain readers take the first file's schema: a directory whose first
file is of version 1 hides the newer columns from them).

A file of ours of any version holds a prefix of today's columns in today's order and types
(versions only append columns), less the hive-key columns of its folder. Its current form
adds the columns appended since, null for its rows; its rows keep their `schema_version`.
"""

from __future__ import annotations

import pyarrow as pa

from parquet_logger.columns import SCHEMA_1_COLUMN_NAMES

from .schema import SCHEMA

_SINCE_VERSION_1 = frozenset(SCHEMA.names) - frozenset(SCHEMA_1_COLUMN_NAMES)


def current_form(schema: pa.Schema) -> pa.Schema | None:
    """The schema a part file of `schema` takes today; None for a file that is not one of
    ours (a column we never wrote, another type or order): such a file is left as it is."""
    names = set(schema.names)
    target = pa.schema(
        [f for f in SCHEMA if f.name in names or f.name in _SINCE_VERSION_1],
        metadata=SCHEMA.metadata,
    )
    kept = [f for f in target if f.name in names]
    if [f.name for f in kept] != schema.names:
        return None
    if any(not f.type.equals(schema.field(f.name).type) for f in kept):
        return None
    return target


def in_current_form(table: pa.Table, target: pa.Schema) -> pa.Table:
    """`table` with the columns of `target` it lacks added as nulls, in `target`'s order."""
    present = set(table.column_names)
    columns = [
        table.column(f.name) if f.name in present else pa.nulls(table.num_rows, f.type)
        for f in target
    ]
    return pa.Table.from_arrays(columns, schema=target)
