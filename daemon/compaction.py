"""Merging a closed partition's small part files into few large ones, safe against SIGKILL.

The steps, like the writer's commit journal (a crash between any two loses and repeats no row):
1. each group's merged file is written as `.compact-<name>.tmp` and fsynced (a crash here
   leaves only those temporaries, which the next run removes);
2. the journal (`compact.json`, owner-only, in the state folder) lists each group's new file
   and the files it replaces, written atomically and durably;
3. group by group, the old files are renamed aside to `.<name>.compacted` (a name no reader
   lists), then the new file is renamed into place;
4. the aside files are deleted; 5. the journal is removed.
A run or a writer start that finds a journal finishes it (`recover`): a group whose new file
exists (as temporary or in place) is completed; one whose new file is gone is rolled back.

What a reader listing the folder meanwhile sees: the old files until their group is swapped,
the new file after; in the instant between one group's renames, neither (rows missing from a
listing taken then, never counted twice). A reader that listed the old files and opens them
after the swap gets FileNotFoundError: it must list again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from parquet_logger.transport.statedir import (
    STATE_FOLDER,
    StateDir,
    fsync_dir,
    host_name,
    open_private,
    write_private,
)

from .compaction_plan import PartFile, bins
from .partfile import PartWriter
from .schema_upgrade import current_form, in_current_form

# Tests set this to a step name ("merged", "journaled", "aside", "placed", "swapped",
# "deleted") to have the compaction SIGKILL itself right after that step.
KILL_AT_ENV = "PARQUET_LOGGER_COMPACT_KILL_AT"
PART_NAME = re.compile(r"^part-.*\.parquet$")
STAMP = re.compile(r"^part-(\d{8}T\d{12}Z)-")
TMP_PREFIX = ".compact-"
ASIDE_SUFFIX = ".compacted"
ROW_GROUP_BYTES = 64 * 1024 * 1024  # tables gathered into one row group of a merged file


class CompactionBusyError(RuntimeError):
    """Another compaction of this directory runs on this host."""


@dataclass(frozen=True)
class Group:
    """One merged file and the files it replaces (journalled relative to the log directory,
    so a directory moved after a crash is still recovered)."""

    new: Path
    tmp: Path
    old: list[Path]


@dataclass(frozen=True)
class Result:
    partition: str
    files_before: int
    files_after: int
    rows: int


def _kill_point(step: str) -> None:
    if os.environ.get(KILL_AT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def aside_path(old: Path) -> Path:
    return old.with_name(f".{old.name}{ASIDE_SUFFIX}")


@contextlib.contextmanager
def locked(state: StateDir) -> Iterator[None]:
    """Hold the directory's compaction lock (the kernel drops it if this process dies).

    Raises:
        CompactionBusyError: another compaction holds it.
    """
    state.ensure()
    fd = open_private(state.compaction_lock)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CompactionBusyError(f"another compaction of {state.log_dir} is running") from None
        yield
    finally:
        os.close(fd)


def partitions(log_dir: Path) -> list[str]:
    """The partition paths under `log_dir` that hold published part files ("" when flat)."""
    found = []
    for root, dirs, files in os.walk(log_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        if any(PART_NAME.match(f) for f in files):
            found.append(Path(root).relative_to(log_dir).as_posix().removeprefix("."))
    return found


def pending_uploads(log_dir: Path) -> set[Path]:
    """Files a writer's spool still has to upload (any host's): compaction leaves them."""
    pending = set()
    for entry in log_dir.glob(f"{STATE_FOLDER}/*/spool/*.parquet.json"):
        with contextlib.suppress(OSError, orjson.JSONDecodeError, KeyError, TypeError):
            pending.add(Path(orjson.loads(entry.read_bytes())["path"]))
    return pending


def compact_partition(state: StateDir, partition: str, target_bytes: int) -> Result:
    """Merge the partition's small part files into files near `target_bytes` (the caller
    holds `locked(state)` and has checked the partition is closed)."""
    folder = state.log_dir / partition
    skip = pending_uploads(state.log_dir)
    listed = [_part_file(p) for p in sorted(folder.glob("part-*.parquet")) if p not in skip]
    groups = bins(listed, target_bytes)
    names = _Namer()
    planned = [
        Group(
            new=(new := folder / names.next_name(group[0].name)),
            tmp=folder / f"{TMP_PREFIX}{new.name}.tmp",
            old=[folder / part.name for part in group],
        )
        for group in groups
    ]
    rows = sum(_merge(g) for g in planned)
    _kill_point("merged")
    if planned:
        _write_journal(state, planned)
        _kill_point("journaled")
        _finish(state, planned)
    merged = sum(len(g.old) for g in planned)
    return Result(partition, len(listed), len(listed) - merged + len(planned), rows)


def recover(state: StateDir) -> bool:
    """Finish or roll back the compaction a crash interrupted, and remove its temporaries
    (the caller holds `locked(state)`); True if a journal was found."""
    groups = _read_journal(state)
    if groups is not None:
        _finish(state, groups)
    for root, dirs, files in os.walk(state.log_dir):
        dirs[:] = [d for d in dirs if not d.startswith("_")]
        for name in files:
            if name.startswith(TMP_PREFIX) and name.endswith(".tmp"):
                Path(root, name).unlink(missing_ok=True)  # merged, never journalled
    return groups is not None


def recover_if_idle(state: StateDir) -> bool:
    """`recover`, if a journal is left and no compaction is running now (a writer calls
    this at start; temporaries without a journal it leaves to the next compaction)."""
    if not state.compaction_journal.exists():
        return False
    try:
        with locked(state):
            return recover(state)
    except CompactionBusyError:
        return False


def _finish(state: StateDir, groups: list[Group]) -> None:
    """Steps 3-5, idempotent: each step checks what is already done."""
    folders = {g.new.parent for g in groups}
    for group in groups:
        new, tmp, olds = group.new, group.tmp, group.old
        if tmp.exists() or new.exists():
            for old in olds:
                if old.exists():
                    os.replace(old, aside_path(old))
                    _kill_point("aside")
            if tmp.exists():
                os.replace(tmp, new)
                _kill_point("placed")
        else:  # the merged file is gone: keep (or put back) the old ones
            for old in olds:
                if aside_path(old).exists():
                    os.replace(aside_path(old), old)
    for folder in folders:
        fsync_dir(folder)
    _kill_point("swapped")
    for group in groups:
        if group.new.exists():
            for old in group.old:
                aside_path(old).unlink(missing_ok=True)
    for folder in folders:
        fsync_dir(folder)
    _kill_point("deleted")
    state.compaction_journal.unlink(missing_ok=True)
    fsync_dir(state.compaction_journal.parent)


def _merge(group: Group) -> int:
    """Write the group's rows, file after file, as one fsynced temporary; its row count."""
    olds = [pq.ParquetFile(path) for path in group.old]
    expected = sum(f.metadata.num_rows for f in olds)
    # Files of ours are written in today's schema (an older version's gain its new columns).
    target = current_form(olds[0].schema_arrow) or olds[0].schema_arrow
    part = PartWriter(group.new, target, tmp=group.tmp)
    try:
        pending: list[pa.Table] = []
        for source in olds:
            table = source.read()
            pending.append(table if table.schema == target else in_current_form(table, target))
            if sum(t.nbytes for t in pending) >= ROW_GROUP_BYTES:
                part.write(pa.concat_tables(pending))
                pending = []
        if pending:
            part.write(pa.concat_tables(pending))
        part.finish()
    except BaseException:
        part.abort()
        raise
    finally:
        for source in olds:
            source.close()
    if part.rows != expected:
        part.abort()
        raise RuntimeError(f"merged {part.rows} rows into {group.tmp}, expected {expected}")
    return part.rows


def _part_file(path: Path) -> PartFile:
    """A listed file; files of ours of every schema version are keyed by today's form of
    their schema, so that they merge together."""
    schema = pq.read_schema(path)
    target = current_form(schema)
    key = schema if target is None else target
    digest = hashlib.sha256(key.serialize().to_pybytes()).hexdigest()
    outdated = target is not None and target.names != schema.names
    return PartFile(path.name, path.stat().st_size, digest, outdated)


def _write_journal(state: StateDir, groups: list[Group]) -> None:
    def rel(path: Path) -> str:
        return path.relative_to(state.log_dir).as_posix()

    data = orjson.dumps(
        [{"new": rel(g.new), "tmp": rel(g.tmp), "old": [rel(p) for p in g.old]} for g in groups]
    )
    write_private(state.compaction_journal, data, fsync=True)
    fsync_dir(state.compaction_journal.parent)


def _read_journal(state: StateDir) -> list[Group] | None:
    try:
        raw = orjson.loads(state.compaction_journal.read_bytes())
        root = state.log_dir
        return [Group(root / g["new"], root / g["tmp"], [root / p for p in g["old"]]) for g in raw]
    except FileNotFoundError:
        return None


class _Namer:
    """`part-<first old file's time>-<host>-<pid>-c<seq>.parquet`: it sorts with the span of
    time it holds, and the `c` keeps it apart from every name a writer gives."""

    def __init__(self) -> None:
        self._host = host_name()
        self._pid = os.getpid()
        self._seq = itertools.count()

    def next_name(self, first_old: str) -> str:
        match = STAMP.match(first_old)
        stamp = match.group(1) if match else datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"part-{stamp}-{self._host}-{self._pid}-c{next(self._seq):06d}.parquet"
