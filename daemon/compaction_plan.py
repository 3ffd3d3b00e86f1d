"""What a compaction would do, decided without touching a file: which partitions are closed,
and which of a partition's part files are merged into which new file.

Pure functions of what the caller listed (names, sizes, schemas, today's date, whether a
writer runs); `compaction` carries the plan out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

DATE_KEY = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})(?:/|$)")


@dataclass(frozen=True)
class PartFile:
    """A published part file of one partition folder, as listed."""

    name: str
    size_bytes: int
    schema_key: str  # files are merged only with files of the same schema
    outdated: bool = False  # of an earlier schema version: rewritten even when alone


def partition_closed(partition: str, today: date, writer_running: bool) -> bool:
    """True when no writer will add files to `partition`: its date is before `today` (UTC),
    or no writer runs for the directory.

    A date partition of an earlier day can still receive events logged late (an event's
    partition is its own UTC date); those land in new part files, which compaction never
    touches, so merging the older files stays safe.
    """
    if not writer_running:
        return True
    match = DATE_KEY.search(partition)
    return match is not None and date.fromisoformat(match.group(1)) < today


def bins(files: list[PartFile], target_bytes: int) -> list[list[PartFile]]:
    """Groups of two or more files, each to be merged into one file of about `target_bytes`.

    Files are taken in name order (their names start with their UTC time, so a merged file
    holds a span of time); a group closes before the file that would carry it past
    `target_bytes`, or that has another schema. A file left alone is not rewritten, unless
    it is of an earlier schema version (then it is rewritten in today's).
    """
    groups: list[list[PartFile]] = []
    current: list[PartFile] = []
    current_bytes = 0
    for part in sorted(files, key=lambda f: f.name):
        fits = current_bytes + part.size_bytes <= target_bytes
        if current and (not fits or part.schema_key != current[0].schema_key):
            groups.append(current)
            current, current_bytes = [], 0
        current.append(part)
        current_bytes += part.size_bytes
    groups.append(current)
    return [group for group in groups if len(group) >= 2 or (group and group[0].outdated)]
