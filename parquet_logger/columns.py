"""The output columns: their names, order and types, defined once for every side.

Producers write each record's typed columns into its meta object (`wire.META_FIELDS`: every
column but `payload`, which travels as bytes of its own); the writer turns this list into the
Parquet schema (`parquet_logger_daemon.schema`). The first seven columns are those of the
package users come from. The schema is frozen: readers take the first file's schema, so a
change here needs a new `SCHEMA_VERSION` and a plan for the files already written.

Version 2 appended the OpenTelemetry GenAI columns (from `trace_id` on) and changed no
earlier column's name or type, only what `provider` holds (a `gen_ai.provider.name` value):
a directory of both versions reads as one dataset whose schema-1 rows are null in the new
columns (a reader given the version-2 schema, or DuckDB's `union_by_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SCHEMA_VERSION = 2

ColumnType = Literal["timestamp_us_utc", "string", "int64", "int16", "float64", "list_string"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    dictionary: bool = False  # few distinct values: dictionary-encoded in the file


COLUMNS: tuple[Column, ...] = (
    Column("timestamp", "timestamp_us_utc", nullable=False),
    Column("run_id", "string"),
    Column("parent_run_id", "string"),
    Column("custom_id", "string", dictionary=True),
    Column("event_type", "string", dictionary=True),
    Column("logger_metadata", "string", dictionary=True),  # JSON text
    Column("payload", "string"),  # the event's JSON envelope
    Column("event_id", "string"),
    Column("run_type", "string", dictionary=True),
    Column("name", "string", dictionary=True),
    Column("model", "string", dictionary=True),
    Column("provider", "string", dictionary=True),
    Column("input_tokens", "int64"),
    Column("output_tokens", "int64"),
    Column("total_tokens", "int64"),
    Column("latency_ms", "float64"),
    Column("error_type", "string", dictionary=True),
    Column("host", "string", dictionary=True),
    Column("pid", "int64"),
    Column("schema_version", "int16"),
    # Schema version 2: the OpenTelemetry GenAI facts (README "Columns" maps each to its
    # gen_ai.* attribute).
    Column("trace_id", "string"),
    Column("root_run_id", "string"),
    Column("operation", "string", dictionary=True),
    Column("request_model", "string", dictionary=True),
    Column("response_model", "string", dictionary=True),
    Column("cache_read_input_tokens", "int64"),
    Column("cache_creation_input_tokens", "int64"),
    Column("reasoning_output_tokens", "int64"),
    Column("finish_reasons", "list_string"),
    Column("response_id", "string"),
    Column("temperature", "float64"),
    Column("max_tokens", "int64"),
    Column("tool_name", "string", dictionary=True),
    Column("time_to_first_token_ms", "float64"),
    Column("start_time", "timestamp_us_utc"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in COLUMNS)
# The columns of schema version 1: the prefix of today's that files of version 1 hold.
SCHEMA_1_COLUMN_NAMES: tuple[str, ...] = COLUMN_NAMES[: COLUMN_NAMES.index("schema_version") + 1]
# The hive keys a layout may partition on (`partition_on`), in their order in a path; a key is
# a folder name, never also a column of the file.
PARTITION_KEYS: tuple[str, ...] = ("date", "event_type")
