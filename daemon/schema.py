"""The frozen output schema, and turning buffered ring records into an Arrow table."""

from __future__ import annotations

import array
import itertools
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa

from parquet_logger.wire import META_FIELDS

# Column order: the seven columns of the package users come from, then typed columns.
SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("run_id", pa.string()),
        pa.field("parent_run_id", pa.string()),
        pa.field("custom_id", pa.string()),
        pa.field("event_type", pa.string()),
        pa.field("logger_metadata", pa.string()),
        pa.field("payload", pa.string()),
        pa.field("event_id", pa.string()),
        pa.field("run_type", pa.string()),
        pa.field("name", pa.string()),
        pa.field("model", pa.string()),
        pa.field("provider", pa.string()),
        pa.field("input_tokens", pa.int64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("total_tokens", pa.int64()),
        pa.field("latency_ms", pa.float64()),
        pa.field("error_type", pa.string()),
        pa.field("host", pa.string()),
        pa.field("pid", pa.int64()),
        pa.field("schema_version", pa.int16()),
    ],
    metadata={"parquet_logger.schema_version": "1"},
)

# Low-cardinality columns: dictionary-encoded in the file.
DICTIONARY_COLUMNS = [
    "custom_id",
    "event_type",
    "logger_metadata",
    "run_type",
    "name",
    "model",
    "provider",
    "error_type",
    "host",
]

_MAX_CHUNK_BYTES = 2**31 - 1  # the largest data buffer a string array's i32 offsets address
_META_INDEX = {name: i for i, name in enumerate(META_FIELDS)}
_INT_COLUMNS = {"input_tokens", "output_tokens", "total_tokens", "pid", "schema_version"}


def build_table(
    metas: list[list[Any]], payloads: Sequence[bytes | memoryview], drop: frozenset[str]
) -> pa.Table:
    """An Arrow table of the schema (less the hive-key columns in `drop`).

    Raises:
        pa.ArrowInvalid / pa.ArrowTypeError: a record has a value of the wrong type; the
            caller then retries with `sanitize`.
    """
    columns = list(zip(*metas, strict=True)) if metas else [() for _ in META_FIELDS]
    arrays = []
    fields = []
    for fld in SCHEMA:
        if fld.name in drop:
            continue
        if fld.name == "payload":
            arrays.append(payload_array(payloads))
        else:
            arrays.append(pa.array(columns[_META_INDEX[fld.name]], fld.type))
        fields.append(fld)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=SCHEMA.metadata))


def payload_array(payloads: Sequence[bytes | memoryview]) -> pa.StringArray | pa.ChunkedArray:
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


def _string_chunk(payloads: Sequence[bytes | memoryview], lengths: list[int]) -> pa.StringArray:
    offsets = array.array("i", itertools.accumulate(lengths, initial=0))
    column = pa.StringArray.from_buffers(
        len(payloads), pa.py_buffer(offsets), pa.py_buffer(b"".join(payloads))
    )
    column.validate(full=True)
    return column


def sanitize_payloads(payloads: Sequence[bytes | memoryview]) -> list[bytes | memoryview]:
    """Payloads with every one that is not UTF-8 replaced by a JSON object holding its text
    (undecodable bytes as backslash escapes), so the record is kept and marked."""
    out: list[bytes | memoryview] = []
    for payload in payloads:
        try:
            bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            text = bytes(payload).decode("utf-8", errors="backslashreplace")
            payload = orjson.dumps({"$invalid_utf8": str(exc), "payload": text})
        out.append(payload)
    return out


def sanitize(meta: list[Any]) -> list[Any]:
    """Coerce one record's typed fields to their column types (wrong values become text or
    null) so that one odd record cannot keep a batch from being written."""
    out = list(meta)
    for name, i in _META_INDEX.items():
        value = out[i]
        if name in ("partition",):
            continue
        if name == "timestamp":
            out[i] = value if isinstance(value, int) and not isinstance(value, bool) else 0
        elif name in _INT_COLUMNS:
            ok = (
                isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
            )
            out[i] = value if ok else None
        elif name == "latency_ms":
            out[i] = float(value) if isinstance(value, int | float) else None
        elif value is not None and not isinstance(value, str):
            out[i] = str(value)
    return out
