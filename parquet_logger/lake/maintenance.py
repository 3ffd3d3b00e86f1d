"""`lake optimize` and `lake vacuum`: Delta's own compaction and clean-up, the only ways to
merge or remove files once a directory is a Delta table.

optimize.compact() writes merged files and marks the small ones removed in one commit; the
small files stay on storage until vacuum deletes them (after the retention). In between,
the table reads every row once, but a plain Parquet reader of the directory reads the merged
files AND the small ones: every compacted row twice. A plain-file compaction (rewriting and
deleting part files behind Delta's back) must never run on a table: the log would point at
deleted files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from parquet_logger.errors import LakeError
from parquet_logger.validation import require_bool, require_int

from .lock import committer_lock
from .source import LakeSource
from .store import open_table

DEFAULT_RETENTION_HOURS = 168  # Delta's default (delta.deletedFileRetentionDuration, 7 days)


@dataclass(frozen=True)
class OptimizeResult:
    """Files merged by one optimize (`metrics` is Delta's own report)."""

    files_added: int
    files_removed: int
    metrics: dict[str, Any]


def optimize(source: LakeSource, target_size_bytes: int | None = None) -> OptimizeResult:
    """Compact the table's small files with Delta's optimize (one commit).

    Args:
        source: the table.
        target_size_bytes: the size merged files aim at (None: Delta's default, 100 MiB
            or the table's `delta.targetFileSize`).

    Raises:
        CommitterBusyError: another committer holds the lock.
        LakeError: no table at `source`, or the optimize failed (the table is unchanged).
    """
    require_int("target_size_bytes", target_size_bytes, optional=True)
    with committer_lock(source):
        table = _require_table(source)
        try:
            metrics = table.optimize.compact(target_size=target_size_bytes)
        except DeltaError as exc:
            raise LakeError(f"optimize of {source.describe()} failed: {exc}") from exc
    return OptimizeResult(metrics["numFilesAdded"], metrics["numFilesRemoved"], metrics)


def vacuum(
    source: LakeSource, retention_hours: int = DEFAULT_RETENTION_HOURS, dry_run: bool = False
) -> list[str]:
    """Delete the files the table removed more than `retention_hours` ago; returns them.

    Always Delta's "lite" vacuum (removed files only): a full vacuum also deletes files the
    log does not mention, which includes part files uploaded but not yet committed.

    Raises:
        CommitterBusyError: another committer holds the lock.
        LakeError: no table at `source`, or the vacuum failed.
    """
    require_int("retention_hours", retention_hours, minimum=0)
    require_bool("dry_run", dry_run)
    with committer_lock(source):
        table = _require_table(source)
        try:
            return table.vacuum(
                retention_hours=retention_hours,
                dry_run=dry_run,
                enforce_retention_duration=False,
                full=False,
            )
        except DeltaError as exc:
            raise LakeError(f"vacuum of {source.describe()} failed: {exc}") from exc


def _require_table(source: LakeSource) -> DeltaTable:
    try:
        table = open_table(source)
    except DeltaError as exc:
        raise LakeError(f"cannot open the table at {source.describe()}: {exc}") from exc
    if table is None:
        raise LakeError(f"no Delta table at {source.describe()}: run `lake commit` first")
    return table
