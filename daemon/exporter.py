"""Where the writer's records go: the exporter protocol between the engine and its I/O stages.

The engine (see `engine.Engine`) owns the ring: it reads records, groups them by partition
and commits ring positions. An exporter owns what happens to the records. The order of a
flush is the write-ahead log's:

    export(batch)  -> the batch is durable (files written, fsynced, journalled, spooled)
    ring.commit(batch.end)       (the engine; producers may now reuse that space)
    committed(exported)          (after the commit: e.g. start the uploads)

Two stages implement it: `parquet_exporter.ParquetExporter` (part files and the commit
journal) and `s3_exporter.S3Exporter`, which wraps it with the upload spool. A test can give
the engine a fake exporter and run it in one process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from parquet_logger.transport import wire


@dataclass
class PartitionBuffer:
    """One partition's records read from the ring and not yet exported.

    Meta objects and payloads stay views into the ring until the records are committed (see
    `Ring.read`): nothing is parsed or copied before the records become a table.
    """

    metas: list[wire.Body] = field(default_factory=list)
    payloads: list[wire.Body] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    """Everything read up to ring position `end` and not handed over yet, by partition path."""

    end: int
    partitions: Mapping[str, PartitionBuffer]


@dataclass(frozen=True)
class Exported:
    """A durable batch: the ring may be committed up to `end`."""

    end: int
    files: list[Path]  # the files that now hold the batch's records
    rows: int


class Exporter(Protocol):
    def recover(self, committed: int) -> Exported | None:
        """Finish what a crashed predecessor left half done, before the first export; returns
        a batch it had made durable past `committed` (the engine commits it), or None."""
        ...

    def write_ahead(self, chunk: Mapping[str, PartitionBuffer]) -> None:
        """Take records early, while producers are still publishing, so that the next
        export has less left to do; they are durable only once that export returns.

        Raises:
            OSError: nothing of the flush under way may be trusted; the engine reads the
                uncommitted records again.
        """
        ...

    def export(self, batch: Batch) -> Exported:
        """Make the batch, and everything taken by `write_ahead` since the last export,
        durable.

        Raises:
            OSError: nothing was made durable; the engine reads the records again later.
        """
        ...

    def committed(self, exported: Exported) -> None:
        """The ring is committed past `exported`: work that must follow the commit."""
        ...

    def close(self, timeout_s: float) -> bool:
        """Finish queued work within `timeout_s`; True if nothing is left over."""
        ...
