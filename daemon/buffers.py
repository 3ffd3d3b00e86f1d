"""Records read from the ring and not yet written, grouped by partition path."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from parquet_logger.transport import wire

from .exporter import PartitionBuffer
from .partfile import PARTITION_PATTERN

INVALID_EVENT_TYPE = "invalid_record"


class Buffers:
    """Per-partition buffers; a record that cannot be decoded is kept as an `invalid_record`
    row (its bytes in the payload, as text) rather than lost."""

    def __init__(self) -> None:
        self.partitions: dict[str, PartitionBuffer] = {}
        self.rows = 0
        self.nbytes = 0
        self.invalid = 0
        # Invalid records go where a valid one would, so every folder has the same hive keys.
        self._last_partition = ""

    def add(self, body: wire.Body, now_us: int) -> None:
        try:
            partition, meta, payload = wire.split(body)
            buf = self.partitions.get(partition)
            if buf is None:
                if not PARTITION_PATTERN.match(partition):
                    raise wire.WireError(f"unsafe partition path {partition!r}")
                buf = self.partitions[partition] = PartitionBuffer()
            self._last_partition = partition
        except wire.WireError as exc:
            self.invalid += 1
            meta, payload = invalid_record(body, str(exc), now_us)
            partition = _invalid_partition(self._last_partition, now_us)
            buf = self.partitions.get(partition)
            if buf is None:
                buf = self.partitions[partition] = PartitionBuffer()
        buf.metas.append(meta)
        buf.payloads.append(payload)
        self.rows += 1
        self.nbytes += len(body)

    def take(self) -> dict[str, PartitionBuffer]:
        """Hand over everything buffered and start empty (also how buffered records are
        dropped after a failed write: they are still in the ring, uncommitted)."""
        taken, self.partitions = self.partitions, {}
        self.rows = 0
        self.nbytes = 0
        return taken

    def take_full(self, min_rows: int) -> dict[str, PartitionBuffer]:
        """Hand over the records of each partition holding at least `min_rows` of them; the
        counts (`rows`, `nbytes`) still include them until the next `take`."""
        full = {}
        for partition, buf in self.partitions.items():
            if len(buf.metas) >= min_rows:
                full[partition] = PartitionBuffer(buf.metas, buf.payloads)
                buf.metas, buf.payloads = [], []
        return full


def _invalid_partition(like: str, now_us: int) -> str:
    parts = []
    for part in like.split("/") if like else []:
        if part.startswith("date="):
            day = datetime.fromtimestamp(now_us / 1e6, UTC).strftime("%Y-%m-%d")
            parts.append(f"date={day}")
        elif part.startswith("event_type="):
            parts.append(f"event_type={INVALID_EVENT_TYPE}")
    return "/".join(parts)


def invalid_record(body: wire.Body, reason: str, now_us: int) -> tuple[bytes, bytes]:
    """The (meta, payload) of an `invalid_record` row keeping `body` as text."""
    payload = orjson.dumps(
        {
            "event_type": INVALID_EVENT_TYPE,
            "error": reason,
            "record": bytes(body).decode("utf-8", errors="backslashreplace"),
        }
    )
    meta = {
        "timestamp": now_us,
        "run_id": "",
        "parent_run_id": "",
        "custom_id": "",
        "event_type": INVALID_EVENT_TYPE,
        "schema_version": wire.SCHEMA_VERSION,
    }
    return orjson.dumps(meta), payload
