"""Files waiting for their S3 upload: one small JSON entry per Parquet file.

An entry is written (atomically, durably) before the ring is committed past the file's
records, and removed only once S3 has confirmed the upload; a writer that starts finds the
entries of its predecessor and uploads them. The S3 key is fixed in the entry, so every
attempt, before or after a restart, writes the same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from parquet_logger.transport.statedir import fsync_dir, make_private_folder, write_private


@dataclass(frozen=True)
class SpoolEntry:
    path: Path  # the local Parquet file
    key: str  # its S3 key, fixed before the first attempt
    entry: Path  # this entry's own file

    @property
    def name(self) -> str:
        return self.path.name


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        make_private_folder(folder)

    def add_all(self, files: list[tuple[Path, str]]) -> list[SpoolEntry]:
        """Record uploads to do, durably, before the caller commits the ring."""
        entries = []
        for path, key in files:
            entry = self.folder / f"{path.name}.json"
            write_private(entry, orjson.dumps({"path": str(path), "key": key}), fsync=True)
            entries.append(SpoolEntry(path, key, entry))
        if entries:
            fsync_dir(self.folder)
        return entries

    def pending(self) -> list[SpoolEntry]:
        """Every entry left, oldest file first (names start with their UTC time)."""
        entries = []
        for entry in sorted(self.folder.glob("*.parquet.json")):
            try:
                raw = orjson.loads(entry.read_bytes())
                entries.append(SpoolEntry(Path(raw["path"]), str(raw["key"]), entry))
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a torn .tmp never gets this name; anything else is not ours
        return entries

    def done(self, entry: SpoolEntry) -> None:
        entry.entry.unlink(missing_ok=True)

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.parquet.json"))
