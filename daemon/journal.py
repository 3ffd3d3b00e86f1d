"""The commit journal: the bridge that makes a writer crash mid-commit lose and repeat nothing.

Order of a commit: part files written as .tmp and fsynced -> journal written atomically
(`{ring_id, end, files}`) -> files renamed into place -> ring `committed` set to `end`.
A writer that starts and finds a journal for its ring whose `end` is past `committed` finishes
the renames and sets `committed`: the records up to `end` are in files exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from parquet_logger.transport.statedir import fsync_dir, write_private


@dataclass(frozen=True)
class JournalEntry:
    ring_id: int
    end: int
    files: list[tuple[str, str]]  # (tmp path, final path)


def write(path: Path, entry: JournalEntry) -> None:
    """Replace the journal atomically and durably."""
    data = orjson.dumps({"ring_id": entry.ring_id, "end": entry.end, "files": entry.files})
    write_private(path, data, fsync=True)
    fsync_dir(path.parent)


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
