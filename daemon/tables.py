"""A partition's buffered records as one Arrow table, malformed records included."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from parquet_logger.transport import wire

from .buffers import invalid_record
from .schema import build_table, build_table_sanitized

log = logging.getLogger("parquet_logger_daemon")


def partition_table(
    partition: str, metas: Sequence[wire.Body], payloads: Sequence[wire.Body]
) -> tuple[pa.Table, bool]:
    """The records of `partition` (less its hive-key columns) as a table, and whether some
    of them were malformed.

    The fast path parses every record's typed fields in one call. If any record breaks it,
    one malformed record must not sink the batch: the records are parsed one by one, a meta
    that is not a JSON object becomes an `invalid_record` row, bytes that are not UTF-8 are
    replaced by U+FFFD and wrong field types are coerced (an integer past int64 is null).
    """
    drop = frozenset(p.split("=", 1)[0] for p in partition.split("/") if p)
    try:
        return build_table(metas, payloads, drop), False
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as exc:
        log.warning("coercing malformed records in %s: %s", partition or ".", exc)
    parsed: list[dict[str, Any]] = []
    kept: list[wire.Body] = []
    now_us = time.time_ns() // 1000
    for meta_json, payload in zip(metas, payloads, strict=True):
        meta = _decode_meta(meta_json)
        if isinstance(meta, wire.WireError):
            whole = bytes(meta_json) + bytes(payload)
            meta_json, payload = invalid_record(whole, str(meta), now_us)
            meta = wire.decode_meta(meta_json)
        parsed.append(meta)
        kept.append(payload)
    return build_table_sanitized(parsed, kept, drop), True


def _decode_meta(meta_json: wire.Body) -> dict[str, Any] | wire.WireError:
    """A meta object, or why it is none. Text that is not UTF-8 (a foreign producer's) keeps
    its fields, each undecodable byte read as U+FFFD."""
    try:
        return wire.decode_meta(meta_json)
    except wire.WireError as bad:
        error = bad
    try:
        return wire.decode_meta(bytes(meta_json).decode("utf-8", "replace").encode())
    except wire.WireError:
        return error
