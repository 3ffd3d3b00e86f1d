"""The part files a log directory holds, as the writers published them: hive folders
`key=value/` (or none), file names ending `.parquet`. The state folder `_parquet_logger/`,
Delta's `_delta_log/` and in-flight `.part-*.parquet.tmp` files are never part of it."""

from __future__ import annotations

from dataclasses import dataclass

from pyarrow import fs as pafs

PARQUET_SUFFIX = ".parquet"
Partition = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PartFile:
    """One published Parquet file, as the storage lists it.

    Args:
        path: relative to the table root, `/`-separated (how the Delta log names it).
        size: bytes.
        modification_time_ms: the storage's modification time, milliseconds since the epoch.
        partition: the hive keys and values of its folders, outermost first.
    """

    path: str
    size: int
    modification_time_ms: int
    partition: Partition

    @property
    def partition_keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.partition)


def partition_of(path: str) -> Partition | None:
    """The hive partition of a relative path if it names a part file, else None.

    Every folder must be `key=value` (no `_`- or `.`-prefixed folder: those hold state or
    the Delta log) and the file must end `.parquet` without a leading `.` or `_`.
    """
    *folders, name = path.split("/")
    if not name.endswith(PARQUET_SUFFIX) or name.startswith((".", "_")):
        return None
    partition = []
    for folder in folders:
        key, sep, value = folder.partition("=")
        if not sep or not key or not value or key.startswith((".", "_")):
            return None
        partition.append((key, value))
    return tuple(partition)


def list_part_files(filesystem: pafs.FileSystem, allow_missing: bool = False) -> list[PartFile]:
    """Every part file under the filesystem's root, sorted by path.

    Args:
        filesystem: rooted at the table.
        allow_missing: a root that does not exist is empty (an S3 prefix nothing was
            uploaded to yet) instead of an error (a mistyped local directory).

    Raises:
        FileNotFoundError: the root does not exist and `allow_missing` is False.
    """
    selector = pafs.FileSelector("", recursive=True, allow_not_found=allow_missing)
    infos = filesystem.get_file_info(selector)
    files = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        path = info.path.lstrip("/")
        partition = partition_of(path)
        if partition is None:
            continue
        mtime_ms = int(info.mtime.timestamp() * 1000) if info.mtime is not None else 0
        files.append(PartFile(path, int(info.size or 0), mtime_ms, partition))
    return sorted(files, key=lambda f: f.path)
