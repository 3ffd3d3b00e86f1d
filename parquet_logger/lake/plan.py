"""What a commit adds: the listed part files the table does not know yet (a pure decision
over a listing and the table's snapshot, so a rerun after any kill decides afresh)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from parquet_logger.errors import LakeError

from .listing import PartFile


@dataclass(frozen=True)
class TableSnapshot:
    """What the table holds at one version.

    Args:
        version: the table's version.
        partition_columns: its partition columns, in order.
        known_paths: every path it references or has removed but not yet vacuumed (a
            file compacted away by optimize must not come back as new).
    """

    version: int
    partition_columns: tuple[str, ...]
    known_paths: frozenset[str]


@dataclass(frozen=True)
class CommitPlan:
    """The files to register and the table's partition columns."""

    additions: tuple[PartFile, ...]
    partition_columns: tuple[str, ...]
    creates_table: bool


def plan_commit(listing: Sequence[PartFile], table: TableSnapshot | None) -> CommitPlan:
    """The files of `listing` not known to `table` (all of them for a new table).

    A new table takes its partition columns from the files; every file must have exactly
    those hive keys (one table has one partitioning).

    Raises:
        LakeError: files with different hive keys (loggers with different `partition_on`
            sharing a directory), or keys other than the table's.
    """
    known = _normalized(table.known_paths) if table else frozenset()
    additions = tuple(f for f in listing if unquote(f.path) not in known)
    if table is not None:
        columns = table.partition_columns
    else:
        columns = additions[0].partition_keys if additions else ()
    odd = [f.path for f in additions if f.partition_keys != columns]
    if odd:
        raise LakeError(
            f"{len(odd)} file(s) are not partitioned by {list(columns)} like the table: "
            f"{odd[:3]}; a table has one partitioning (one partition_on per directory)"
        )
    return CommitPlan(additions, columns, creates_table=table is None)


def _normalized(paths: Collection[str]) -> frozenset[str]:
    return frozenset(unquote(p).lstrip("/") for p in paths)
