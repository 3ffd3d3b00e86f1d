"""The table and its files as deltalake reaches them: one set of storage options for the
Delta log and for listing and footer reads, so a source that opens for one opens for both."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from deltalake.fs import DeltaStorageHandler
from pyarrow import fs as pafs

from .plan import TableSnapshot
from .source import LakeSource


def filesystem(source: LakeSource) -> pafs.FileSystem:
    """A filesystem rooted at the source (paths relative to the table root)."""
    handler = DeltaStorageHandler(source.table_uri, options=source.storage_options())
    return pafs.PyFileSystem(handler)


def open_table(source: LakeSource) -> DeltaTable | None:
    """The table at the source's latest version, or None when there is no `_delta_log/`."""
    try:
        return DeltaTable(source.table_uri, storage_options=source.storage_options())
    except TableNotFoundError:
        return None


def snapshot(table: DeltaTable) -> TableSnapshot:
    """The table's version, partition columns and every path it knows.

    Known paths are the live files plus the removed ones not yet vacuumed: a dry-run
    "lite" vacuum with no retention lists exactly those tombstones (and deletes nothing).
    """
    live = pa.table(table.get_add_actions()).column("path").to_pylist()
    removed = table.vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False)
    return TableSnapshot(
        version=table.version(),
        partition_columns=tuple(table.metadata().partition_columns),
        known_paths=frozenset(live) | frozenset(removed),
    )


def arrow_schema(table: DeltaTable) -> pa.Schema:
    """The table's schema as pyarrow types (partition columns included)."""
    return pa.schema(table.schema().to_arrow())
