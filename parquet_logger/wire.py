"""How one record travels through the ring: versioned bytes, never pickle.

A ring body is `u8 version | u32 meta length | meta | payload`:
- `meta` is an orjson list of the typed columns, in `META_FIELDS` order, with the record's
  partition path first;
- `payload` is the event's JSON envelope, copied into the `payload` column as is, so the writer
  never parses it.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

WIRE_VERSION = 1
SCHEMA_VERSION = 1
_PREFIX = struct.Struct("<BI")

# The order of the meta list. `partition` is the hive path of the record ("" for a flat
# directory); the rest are output columns (see parquet_logger_daemon.schema).
META_FIELDS: tuple[str, ...] = (
    "partition",
    "timestamp",
    "run_id",
    "parent_run_id",
    "custom_id",
    "event_type",
    "logger_metadata",
    "event_id",
    "run_type",
    "name",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "latency_ms",
    "error_type",
    "host",
    "pid",
    "schema_version",
)


def encode(meta: list[Any], payload: bytes) -> bytes:
    """Pack a record for the ring. UUIDs in `meta` are written as strings by orjson."""
    meta_bytes = orjson.dumps(meta)
    return _PREFIX.pack(WIRE_VERSION, len(meta_bytes)) + meta_bytes + payload


class WireError(ValueError):
    """A ring body that is not a record of a known version."""


def decode(body: bytes | memoryview) -> tuple[list[Any], bytes | memoryview]:
    """Unpack a ring body into (meta list, payload JSON bytes); a view's payload is a view.

    Raises:
        WireError: unknown version, bad lengths, or meta that is not a list of the right size.
    """
    if len(body) < _PREFIX.size:
        raise WireError(f"record of {len(body)} bytes is shorter than its prefix")
    version, meta_len = _PREFIX.unpack_from(body)
    if version != WIRE_VERSION:
        raise WireError(f"unknown record version {version}")
    end = _PREFIX.size + meta_len
    if end > len(body):
        raise WireError("record meta runs past the end of the record")
    try:
        meta = orjson.loads(memoryview(body)[_PREFIX.size : end])  # no copy of the slice
    except orjson.JSONDecodeError as exc:
        raise WireError(f"record meta is not JSON: {exc}") from None
    if not isinstance(meta, list) or len(meta) != len(META_FIELDS):
        raise WireError("record meta is not a list of the expected fields")
    return meta, body[end:]
