"""The commit journal: the bridge that makes a writer crash mid-commit lose and repeat nothing.

Order of a commit: part files written as .tmp and fsynced -> journal written atomically
(`{ring_id, end, files}`) -> files renamed into place -> ring `committed` set to `end`.
A writer that starts and finds a journal for its ring whose `end` is past `committed` finishes
the renames and sets `committed`: the records up to `end` are in files exactly once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from parquet_logger.statedir import open_private


@dataclass(frozen=True)
class JournalEntry:
    ring_id: int
    end: int
    files: list[tuple[str, str]]  # (tmp path, final path)


def write(path: Path, entry: JournalEntry) -> None:
    """Replace the journal atomically and durably."""
    tmp = path.with_name(path.name + ".tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(
            fd,
            orjson.dumps({"ring_id": entry.ring_id, "end": entry.end, "files": entry.files}),
        )
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read(path: Path) -> JournalEntry | None:
    """The last journal entry, or None when there is none (or it is unreadable)."""
    try:
        raw = orjson.loads(path.read_bytes())
        return JournalEntry(
            ring_id=int(raw["ring_id"]),
            end=int(raw["end"]),
            files=[(str(t), str(f)) for t, f in raw["files"]],
        )
    except (FileNotFoundError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
