"""The table (through deltalake) and its files (through pyarrow's filesystems), both
reached from one `LakeSource`.

Listing and footer reads use pyarrow, not deltalake's storage handler (wrapped as a pyarrow
filesystem, it hung here against an S3 server running in the same process, the tests' moto
server, before any request reached it: it waits on the network without giving up the GIL).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from pyarrow import fs as pafs

from .plan import TableSnapshot
from .source import LakeSource


def filesystem(source: LakeSource) -> pafs.FileSystem:
    """A filesystem rooted at the source (paths relative to the table root).

    On S3, credentials come from the environment, as for deltalake.
    """
    if not source.is_s3:
        return pafs.SubTreeFileSystem(source.location, pafs.LocalFileSystem())
    endpoint = source.endpoint_url
    options: dict[str, Any] = {}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    if source.region:
        options["region"] = source.region
    elif not endpoint:  # AWS: the bucket's own region, not the default one
        options["region"] = pafs.resolve_s3_region(source.bucket)
    return pafs.SubTreeFileSystem(source.bucket_and_prefix, pafs.S3FileSystem(**options))


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
