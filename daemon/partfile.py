"""Publishing Parquet part files atomically, under names unique across hosts and restarts.

A file is written as `.<name>.tmp` (a name no reader globs: DuckDB and Polars read dot-files
that end in .parquet), fsynced, then renamed into place by the commit; a crash leaves at
most a .tmp file, which the next writer removes.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from parquet_logger.statedir import host_name

from .schema import DICTIONARY_COLUMNS

TMP_PATTERN = re.compile(r"^\.part-.*\.parquet\.tmp$")
# Partition paths come from producers; only these shapes become folders.
PARTITION_PATTERN = re.compile(
    r"^(date=\d{4}-\d{2}-\d{2}(/event_type=[A-Za-z0-9_]+)?|event_type=[A-Za-z0-9_]+)?$"
)


class PartNamer:
    """`part-<utc time>-<host>-<pid>-<seq>.parquet`: time first, so listings sort by time."""

    def __init__(self) -> None:
        self._host = host_name()
        self._pid = os.getpid()
        self._seq = itertools.count()

    def next_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"part-{stamp}-{self._host}-{self._pid}-{next(self._seq):06d}.parquet"


def write_tmp(table: pa.Table, final: Path) -> Path:
    """Write `table` next to `final` under its temporary name, fsynced; return that path."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp")
    dictionary = [c for c in DICTIONARY_COLUMNS if c in table.column_names]
    try:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=3,
            use_dictionary=dictionary,
            write_statistics=True,
        )
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


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
