"""The Parquet form of `parquet_logger.columns`, and turning buffered ring records into a table."""

from __future__ import annotations

import array
import itertools
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pj

from parquet_logger.columns import COLUMNS, SCHEMA_VERSION, ColumnType
from parquet_logger.transport.wire import META_FIELDS, Body

_TYPES: dict[ColumnType, pa.DataType] = {
    "timestamp_us_utc": pa.timestamp("us", tz="UTC"),
    "string": pa.string(),
    "int64": pa.int64(),
    "int16": pa.int16(),
    "float64": pa.float64(),
    # Parquet's own name for a list's items: a table read back has the same type.
    "list_string": pa.list_(pa.field("element", pa.string())),
}

_NULLABLE_PANDAS_INTS = {"int64": "Int64", "int16": "Int16"}


def _pandas_metadata() -> bytes:
    """pandas' own schema metadata, naming only the integer columns' dtypes: pandas (through
    pyarrow) then reads them as nullable `Int64`/`Int16`, not float64 with NaN for nulls."""
    columns = [
        {
            "name": c.name,
            "field_name": c.name,
            "pandas_type": c.type,
            "numpy_type": _NULLABLE_PANDAS_INTS[c.type],
            "metadata": None,
        }
        for c in COLUMNS
        if c.type in _NULLABLE_PANDAS_INTS
    ]
    index: list[str] = []
    return orjson.dumps({"index_columns": index, "column_indexes": [], "columns": columns})


# The output schema, in parquet_logger.columns' order and types.
SCHEMA = pa.schema(
    [pa.field(c.name, _TYPES[c.type], nullable=c.nullable) for c in COLUMNS],
    metadata={
        "parquet_logger.schema_version": str(SCHEMA_VERSION),
        "pandas": _pandas_metadata(),
    },
)

# Low-cardinality columns: dictionary-encoded in the file.
DICTIONARY_COLUMNS = [c.name for c in COLUMNS if c.dictionary]

_MAX_CHUNK_BYTES = 2**31 - 1  # the largest data buffer a string array's i32 offsets address
_INT_COLUMNS = {c.name for c in COLUMNS if c.type in ("int64", "int16")}
_FLOAT_COLUMNS = {c.name for c in COLUMNS if c.type == "float64"}
_LIST_COLUMNS = {c.name for c in COLUMNS if c.type == "list_string"}
_TIMESTAMP_COLUMNS = {c.name for c in COLUMNS if c.type == "timestamp_us_utc"}
_TIMESTAMP = SCHEMA.field("timestamp").type
# The meta objects as pyarrow's JSON reader parses them: timestamps arrive as integers
# (microseconds), cast afterwards; keys a newer producer adds are ignored.
_META_SCHEMA = pa.schema(
    [
        pa.field(name, pa.int64() if name in _TIMESTAMP_COLUMNS else SCHEMA.field(name).type)
        for name in META_FIELDS
    ]
)
_META_PARSE = pj.ParseOptions(explicit_schema=_META_SCHEMA, unexpected_field_behavior="ignore")
_MAX_JSON_BLOCK = 1 << 30


def build_table(metas: Sequence[Body], payloads: Sequence[Body], drop: frozenset[str]) -> pa.Table:
    """An Arrow table of the schema (less the hive-key columns in `drop`), the typed columns
    parsed from the records' meta objects in one call (no Python object per value).

    Raises:
        pa.ArrowInvalid: a meta object is malformed, lacks a timestamp, has a value of the
            wrong type or text that is not UTF-8; the caller then builds the batch with
            `build_table_sanitized`.
    """
    blob = b"\n".join(metas)
    parsed = pj.read_json(
        pa.BufferReader(blob),
        read_options=pj.ReadOptions(
            use_threads=False, block_size=min(len(blob) + 1, _MAX_JSON_BLOCK)
        ),
        parse_options=_META_PARSE,
    )
    if parsed.num_rows != len(metas):  # a foreign record with a raw newline in its meta
        raise pa.ArrowInvalid(f"{parsed.num_rows} meta objects for {len(metas)} records")
    # The JSON reader copies string bytes without checking them: a foreign record's invalid
    # UTF-8 would make the whole file unreadable (pandas, DuckDB). About 0.1 us a record.
    parsed.validate(full=True)
    if parsed.column("timestamp").null_count:
        raise pa.ArrowInvalid("a record has no timestamp")
    columns = {name: parsed.column(name) for name in META_FIELDS}
    for name in _TIMESTAMP_COLUMNS:
        columns[name] = columns[name].cast(_TIMESTAMP)
    return _assemble(columns, payloads, drop)


def build_table_sanitized(
    metas: Sequence[dict[str, Any]], payloads: Sequence[Body], drop: frozenset[str]
) -> pa.Table:
    """`build_table` for parsed meta objects, each coerced to the column types first (wrong
    values become text or null), so that one odd record cannot keep a batch from being
    written. The slow path: a Python value per field."""
    rows = [sanitize(meta) for meta in metas]
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        name: pa.array([row[i] for row in rows], SCHEMA.field(name).type)
        for i, name in enumerate(META_FIELDS)
    }
    return _assemble(columns, sanitize_payloads(payloads), drop)


def _assemble(
    columns: dict[str, pa.Array | pa.ChunkedArray], payloads: Sequence[Body], drop: frozenset[str]
) -> pa.Table:
    arrays = []
    fields = []
    for fld in SCHEMA:
        if fld.name in drop:
            continue
        arrays.append(payload_array(payloads) if fld.name == "payload" else columns[fld.name])
        fields.append(fld)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=SCHEMA.metadata))


def payload_array(payloads: Sequence[Body]) -> pa.StringArray | pa.ChunkedArray:
    """The payload column, built from one joined buffer and its offsets.

    `pa.array(payloads)` appends record by record (about 8 us for a 2 KB payload); one
    join plus offsets costs a memory copy. Producers write orjson output, so the UTF-8 check
    only fails for a foreign or damaged record (see `sanitize_payloads`). Past 2 GiB (a
    huge max_file_bytes) the column is split into chunks: a string array's offsets are i32.

    Raises:
        pa.ArrowInvalid: a payload is not valid UTF-8.
    """
    lengths = list(map(len, payloads))
    if sum(lengths) < _MAX_CHUNK_BYTES:
        return _string_chunk(payloads, lengths)
    chunks, start, size = [], 0, 0
    for i, length in enumerate(lengths):
        if size + length >= _MAX_CHUNK_BYTES and i > start:
            chunks.append(_string_chunk(payloads[start:i], lengths[start:i]))
            start, size = i, 0
        size += length
    chunks.append(_string_chunk(payloads[start:], lengths[start:]))
    return pa.chunked_array(chunks, pa.string())


def _string_chunk(payloads: Sequence[Body], lengths: list[int]) -> pa.StringArray:
    offsets = array.array("i", itertools.accumulate(lengths, initial=0))
    column = pa.StringArray.from_buffers(
        len(payloads), pa.py_buffer(offsets), pa.py_buffer(b"".join(payloads))
    )
    column.validate(full=True)
    return column


def sanitize_payloads(payloads: Sequence[Body]) -> list[Body]:
    """Payloads with every one that is not UTF-8 replaced by a JSON object holding its text
    (undecodable bytes as backslash escapes), so the record is kept and marked."""
    out: list[Body] = []
    for payload in payloads:
        try:
            bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            text = bytes(payload).decode("utf-8", errors="backslashreplace")
            payload = orjson.dumps({"$invalid_utf8": str(exc), "payload": text})
        out.append(payload)
    return out


def sanitize(meta: dict[str, Any]) -> list[Any]:
    """One record's typed fields in `META_FIELDS` order, coerced to their column types."""
    out: list[Any] = []
    for name in META_FIELDS:
        value = meta.get(name)
        if name == "timestamp":
            value = value if isinstance(value, int) and not isinstance(value, bool) else 0
            value = value if 0 <= value < 2**63 else 0
        elif name in _INT_COLUMNS:
            ok = (
                isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
            )
            value = value if ok else None
            if name == "schema_version" and value is not None and not -(2**15) <= value < 2**15:
                value = None
        elif name in _TIMESTAMP_COLUMNS:  # a nullable one (start_time)
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
            value = value if ok else None
        elif name in _FLOAT_COLUMNS:
            value = _as_float(value)
        elif name in _LIST_COLUMNS:
            value = (
                [v if v is None or isinstance(v, str) else str(v) for v in value]
                if isinstance(value, list)
                else None
            )
        elif value is not None and not isinstance(value, str):
            value = str(value)
        out.append(value)
    return out


def _as_float(value: Any) -> float | None:
    """A float column's value: a number as a float (past float range: null), else null."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return None
