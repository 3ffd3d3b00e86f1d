"""Publishing Parquet part files atomically, under names unique across hosts and restarts.

A file is written as `.<name>.tmp` (a name no reader globs: DuckDB and Polars read dot-files
that end in .parquet), fsynced, then renamed into place by the commit; a crash leaves at
most a .tmp file, which the next writer removes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from parquet_logger.transport.statedir import host_name

from .schema import DICTIONARY_COLUMNS

TMP_PATTERN = re.compile(r"^\.part-.*\.parquet\.tmp$")
# Partition paths come from producers; only these shapes become folders.
PARTITION_PATTERN = re.compile(
    r"^(date=\d{4}-\d{2}-\d{2}(/event_type=[A-Za-z0-9_]+)?|event_type=[A-Za-z0-9_]+)?$"
)


def partition_folder(log_dir: Path, partition: str) -> Path:
    """`log_dir/partition`, created one folder at a time with the user's umask.

    A log directory can be shared (a sticky, world-writable folder): another user could plant
    `date=<today>` as a symlink to a folder of theirs or of the system. A partition folder
    that is a symlink is followed only if this user made it; otherwise the write is refused
    (and retried by the writer, the records staying in the ring).

    Raises:
        PermissionError: a partition folder is another user's symlink, or not a directory.
    """
    folder = log_dir
    for part in filter(None, partition.split("/")):
        folder = folder / part
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)
        st = os.lstat(folder)
        if stat.S_ISLNK(st.st_mode) and st.st_uid != os.getuid():
            raise PermissionError(
                f"partition folder {folder} is a symlink of uid {st.st_uid} (to "
                f"{os.readlink(folder)!r}); parquet-logger does not follow another user's "
                "symlink: remove it"
            )
        if not folder.is_dir():
            raise PermissionError(f"partition folder {folder} is not a directory")
    return folder


class PartNamer:
    """`part-<utc time>-<host>-<pid>-<seq>.parquet`: time first, so listings sort by time."""

    def __init__(self) -> None:
        self._host = host_name()
        self._pid = os.getpid()
        self._seq = itertools.count()

    def next_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"part-{stamp}-{self._host}-{self._pid}-{next(self._seq):06d}.parquet"


class PartWriter:
    """One part file in the making: tables are appended as row groups while records arrive,
    so that a flush only adds the last one, writes the footer and fsyncs.

    The file keeps its temporary name until `publish`; `abort` removes it.
    """

    def __init__(self, final: Path, schema: pa.Schema, tmp: Path | None = None) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        self.final = final
        # The writer's own name unless told otherwise (compaction's temporaries must not
        # match TMP_PATTERN: a writer starting meanwhile removes those).
        self.tmp = tmp if tmp is not None else final.with_name(f".{final.name}.tmp")
        self.rows = 0
        dictionary = [c for c in DICTIONARY_COLUMNS if c in schema.names]
        try:
            self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
                self.tmp,
                schema,
                compression="zstd",
                compression_level=3,
                use_dictionary=dictionary,
                write_statistics=True,
            )
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    def write(self, table: pa.Table) -> None:
        """Append `table` (of the file's schema) as a row group."""
        assert self._writer is not None, "write after finish"
        self._writer.write_table(table)
        self.rows += table.num_rows

    def finish(self) -> Path:
        """Write the footer and fsync; return the temporary path, ready to publish."""
        assert self._writer is not None, "finish twice"
        writer, self._writer = self._writer, None
        writer.close()
        fd = os.open(self.tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return self.tmp

    def abort(self) -> None:
        """Drop the file, finished or not; never raises."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)


def publish(tmp: Path, final: Path) -> None:
    """Rename a finished temporary file into place (no-op if that already happened)."""
    if tmp.exists():
        os.replace(tmp, final)


def stale_tmp_files(log_dir: Path) -> list[Path]:
    """Temporary part files under `log_dir` (left by a writer that crashed mid-write)."""
    found = []
    for root, dirs, files in os.walk(log_dir):
        dirs[:] = [d for d in dirs if not d.startswith("_")]
        found += [Path(root, f) for f in files if TMP_PATTERN.match(f)]
    return found
