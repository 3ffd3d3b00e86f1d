"""`lake commit`: register the part files the writers published in the Delta table beside
them, without rewriting a byte of them.

One run: take the committer lock, list the part files, read the table's snapshot, keep the
files it does not know, read their footers (schema check and statistics), and commit them
in ONE Delta transaction. The transaction is the only write, and Delta commits are atomic:
a run killed before it registers nothing, one killed after it registered everything, and a
rerun lists and diffs again, so it finishes the work and never registers a file twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions
from pyarrow import fs as pafs

from parquet_logger.errors import CommitterBusyError, LakeError

from .listing import PartFile, list_part_files
from .lock import committer_lock
from .plan import CommitPlan, plan_commit
from .source import LakeSource
from .stats import file_stats
from .store import arrow_schema, filesystem, open_table, snapshot

# A merged-away file is known to `lake commit` (and to Delta's lite vacuum) only through
# its tombstone, which checkpoints drop after this long. Keep it well past the vacuum
# retention (7 days by default), so `lake vacuum` deletes each merged-away file before its
# tombstone expires and a later commit takes it for a new file.
TABLE_CONFIGURATION = {"delta.deletedFileRetentionDuration": "interval 30 days"}
FOOTER_READERS = 8  # footers read in parallel: on S3 each is a round trip or two
OPERATION = "parquet-logger lake commit"


@dataclass(frozen=True)
class CommitResult:
    """What one `lake commit` did.

    Args:
        version: the table's version afterwards (None: no table, no file to register).
        added_files: files this run registered.
        added_rows: rows in them.
        known_files: listed files the table already knew.
    """

    version: int | None
    added_files: int
    added_rows: int
    known_files: int


def commit(source: LakeSource) -> CommitResult:
    """Register every part file under `source` that the table does not know yet.

    Raises:
        CommitterBusyError: another committer holds the lock or committed first; nothing
            was registered by this run.
        LakeError: mixed partitioning, a file whose schema does not fit the table, or the
            storage or the commit failed; nothing was registered by this run.
    """
    with committer_lock(source):
        try:
            return _commit(source)
        except DeltaError as exc:
            raise LakeError(f"commit to {source.describe()} failed: {exc}") from exc
        except (OSError, pa.ArrowException) as exc:
            raise LakeError(f"reading {source.describe()} failed: {exc}") from exc


def _commit(source: LakeSource) -> CommitResult:
    storage = filesystem(source)
    listing = list_part_files(storage, allow_missing=source.is_s3)
    table = open_table(source)
    plan = plan_commit(listing, snapshot(table) if table is not None else None)
    known = len(listing) - len(plan.additions)
    if not plan.additions:
        return CommitResult(table.version() if table is not None else None, 0, 0, known)
    with ThreadPoolExecutor(FOOTER_READERS) as pool:
        footers = list(pool.map(lambda f: _footer(storage, f), plan.additions))
    if table is None:
        schema = _table_schema(footers[0].schema.to_arrow_schema(), plan.partition_columns)
    else:
        schema = arrow_schema(table)
    _check_schemas(plan.additions, footers, schema)
    actions = [
        AddAction(f.path, f.size, dict(f.partition), f.modification_time_ms, True, file_stats(m))
        for f, m in zip(plan.additions, footers, strict=True)
    ]
    version = _commit_actions(source, table, plan, schema, actions)
    rows = sum(m.num_rows for m in footers)
    return CommitResult(version, len(actions), rows, known)


def _footer(storage: pafs.FileSystem, part: PartFile) -> pq.FileMetaData:
    with storage.open_input_file(part.path) as handle:
        return pq.ParquetFile(handle).metadata


def _table_schema(file_schema: pa.Schema, partition_columns: Sequence[str]) -> pa.Schema:
    """A new table's schema: the files' columns, then the hive keys as strings."""
    schema = file_schema.remove_metadata()
    for name in partition_columns:
        schema = schema.append(pa.field(name, pa.string()))
    return schema


def _check_schemas(
    parts: Sequence[PartFile], footers: Sequence[pq.FileMetaData], schema: pa.Schema
) -> None:
    """Every column of every file must be a table column of the same type (a file may lack
    columns: they read as null)."""
    types = {f.name: f.type for f in schema}
    for part, footer in zip(parts, footers, strict=True):
        for fld in footer.schema.to_arrow_schema():
            if fld.name in part.partition_keys or types.get(fld.name) != fld.type:
                raise LakeError(
                    f"{part.path}: column {fld.name!r} ({fld.type}) does not fit the table's "
                    f"schema ({types.get(fld.name)}); nothing was registered"
                )


def _commit_actions(
    source: LakeSource,
    table: DeltaTable | None,
    plan: CommitPlan,
    schema: pa.Schema,
    actions: list[AddAction],
) -> int:
    """One transaction; returns the new version.

    `max_commit_retries=0`: a commit whose version another writer took fails instead of
    being rebased (a rebased append of the same files would register them twice).
    """
    properties = CommitProperties(
        max_commit_retries=0,
        custom_metadata={"operation_by": OPERATION, "files_registered": len(actions)},
    )
    columns = list(plan.partition_columns)
    try:
        if table is None:
            create_table_with_add_actions(
                source.table_uri,
                DeltaSchema.from_arrow(schema),
                actions,
                mode="error",
                partition_by=columns,
                configuration=TABLE_CONFIGURATION,
                storage_options=source.storage_options(),
                commit_properties=properties,
            )
        else:
            changes: list[AddAction | RemoveAction] = list(actions)
            table.create_write_transaction(
                changes, "append", schema, partition_by=columns, commit_properties=properties
            )
    except CommitFailedError as exc:
        raise CommitterBusyError(
            f"another writer committed to {source.describe()} during this run ({exc}); "
            "nothing was registered: run again"
        ) from exc
    except DeltaError as exc:
        if table is None and open_table(source) is not None:
            raise CommitterBusyError(
                f"another committer created the table at {source.describe()} during this "
                "run; nothing was registered: run again"
            ) from exc
        raise
    committed = open_table(source)
    assert committed is not None, "the table exists once a commit succeeded"
    return committed.version()
