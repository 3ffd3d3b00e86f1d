"""How one record travels through the ring: versioned bytes, never pickle.

A ring body is `u8 version | u16 partition length | u32 meta length | partition | meta |
payload`:
- `partition` is the record's hive path in UTF-8 ("" for a flat directory): the writer
  groups records by it without parsing anything else;
- `meta` is one JSON object of the typed columns, keyed by column name (`META_FIELDS`; a
  missing key is a null). It holds no raw newline (orjson writes compact JSON), so the writer
  parses a whole batch of them as newline-delimited JSON in one call;
- `payload` is the event's JSON envelope, copied into the `payload` column as is, so the writer
  never parses it.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from parquet_logger.columns import COLUMN_NAMES
from parquet_logger.columns import SCHEMA_VERSION as SCHEMA_VERSION  # meta's schema_version

WIRE_VERSION = 2
_PREFIX = struct.Struct("<BHI")
_MAX_PARTITION_BYTES = 0xFFFF

# The typed columns a meta object carries: every output column but the payload.
META_FIELDS: tuple[str, ...] = tuple(name for name in COLUMN_NAMES if name != "payload")

Body = bytes | memoryview


class WireError(ValueError):
    """A ring body that is not a record of a known version."""


def encode(partition: str, meta: dict[str, Any], payload: bytes) -> bytes:
    """Pack a record for the ring. UUIDs in `meta` are written as strings by orjson.

    Raises:
        TypeError: a meta value orjson cannot write.
        ValueError: a partition path longer than 65535 bytes.
    """
    part = partition.encode()
    if len(part) > _MAX_PARTITION_BYTES:
        raise ValueError(f"partition path of {len(part)} bytes is too long")
    meta_bytes = orjson.dumps(meta)
    return _PREFIX.pack(WIRE_VERSION, len(part), len(meta_bytes)) + part + meta_bytes + payload


def split(body: Body) -> tuple[str, Body, Body]:
    """Cut a ring body into (partition, meta JSON, payload JSON) without parsing the JSON; the
    parts of a view are views.

    Raises:
        WireError: unknown version, bad lengths, or a partition that is not UTF-8.
    """
    if len(body) < _PREFIX.size:
        raise WireError(f"record of {len(body)} bytes is shorter than its prefix")
    version, part_len, meta_len = _PREFIX.unpack_from(body)
    if version != WIRE_VERSION:
        raise WireError(f"unknown record version {version}")
    meta_start = _PREFIX.size + part_len
    end = meta_start + meta_len
    if end > len(body) or meta_len == 0:
        raise WireError("record meta runs past the end of the record")
    try:
        partition = str(body[_PREFIX.size : meta_start], "utf-8")
    except UnicodeDecodeError:
        raise WireError("record partition is not UTF-8") from None
    return partition, body[meta_start:end], body[end:]


def decode_meta(meta: Body) -> dict[str, Any]:
    """Parse one meta object (the writer's slow path, and tests).

    Raises:
        WireError: not JSON, or not an object.
    """
    try:
        parsed = orjson.loads(meta)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"record meta is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise WireError("record meta is not a JSON object")
    return parsed
