"""Where logs are read from: a local log directory or an `s3://` prefix, as one Arrow dataset.

Only published part files are read: `*.parquet` files outside any `_`- or `.`-prefixed folder
(the `_parquet_logger/` state folder, a Delta `_delta_log/`) and never an in-flight
`.part-….parquet.tmp`. A local directory with a live writer is flushed first, so a notebook
sees the events it has just logged.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from parquet_logger_daemon import control
from parquet_logger_daemon.schema import SCHEMA

from parquet_logger.s3config import S3Config
from parquet_logger.transport.protocol import ControlExit
from parquet_logger.transport.ring import Ring
from parquet_logger.transport.statedir import STATE_FOLDER, StateDir, read_json_object
from parquet_logger.validation import require_seconds

log = logging.getLogger("parquet_logger.read")


@dataclass(frozen=True)
class Source:
    """An opened log source: its filesystem, its root there and its published part files.

    Build it with `open_source`; every read function also accepts a path or URI directly.
    """

    uri: str
    filesystem: pafs.FileSystem
    root: str
    files: tuple[pafs.FileInfo, ...]
    local_dir: Path | None = None
    partition_keys: tuple[str, ...] = field(default=())

    @property
    def total_bytes(self) -> int:
        return sum(info.size or 0 for info in self.files)

    def schema(self) -> pa.Schema:
        """The dataset's schema: the oldest and newest files' schemas unified (so columns a
        newer writer adds are read, as nulls for older files), plus the hive keys."""
        if not self.files:
            return SCHEMA
        ends = {self.files[0].path, self.files[-1].path}
        schemas = [pq.read_schema(path, filesystem=self.filesystem) for path in sorted(ends)]
        unified = pa.unify_schemas(schemas, promote_options="permissive")
        for key in self.partition_keys:
            if key not in unified.names:
                unified = unified.append(pa.field(key, pa.string()))
        return unified.remove_metadata()

    def dataset(self) -> ds.Dataset:
        """The part files as one Arrow dataset (hive keys as string columns)."""
        schema = self.schema()
        partitioning = ds.partitioning(
            pa.schema([schema.field(key) for key in self.partition_keys]), flavor="hive"
        )
        return ds.dataset(
            [info.path for info in self.files],
            schema=schema,
            format="parquet",
            filesystem=self.filesystem,
            partitioning=partitioning,
            partition_base_dir=self.root,
        )

    def events_dropped(self) -> int | None:
        """Events the ring dropped, summed over the hosts' writer status files (None when
        unknown: an S3 source, or no status file)."""
        if self.local_dir is None:
            return None
        found = [
            read_json_object(path).get("events_dropped")
            for path in (self.local_dir / STATE_FOLDER).glob("*/status.json")
        ]
        counts = [n for n in found if isinstance(n, int)]
        return sum(counts) if counts else None


SourceLike = str | os.PathLike[str] | Source


def open_source(
    source: SourceLike,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    s3_config: S3Config | None = None,
    filesystem: pafs.FileSystem | None = None,
    flush: bool = True,
    flush_timeout_s: float = 30.0,
) -> Source:
    """Open a log source and list its published part files.

    Args:
        source: a local log directory, an `s3://bucket/prefix`, or an opened `Source`
            (returned as it is).
        endpoint_url, region: an S3-compatible endpoint and its region (default: AWS and
            the environment's settings); `s3_config` gives both at once.
        filesystem: a pyarrow filesystem to use instead (the path is then taken as is).
        flush: first ask a live writer of a local directory to write out what it holds.
        flush_timeout_s: the longest that flush may take (then a warning, and the read goes on).

    Returns:
        The source. A directory or prefix without part files gives an empty source.

    Raises:
        FileNotFoundError: a local directory that does not exist.
    """
    if isinstance(source, Source):
        return source
    require_seconds("flush_timeout_s", flush_timeout_s)
    text = os.fspath(source)
    if s3_config is not None:
        endpoint_url = endpoint_url or s3_config.endpoint_url
        region = region or s3_config.region
    if filesystem is not None:
        return _listed(text, filesystem, text.rstrip("/"), None)
    if text.startswith("s3://"):
        fs = s3_filesystem(endpoint_url, region)
        return _listed(text, fs, text[len("s3://") :].rstrip("/"), None)
    local = Path(text).expanduser().absolute()
    if not local.is_dir():
        raise FileNotFoundError(f"log directory {local} does not exist")
    if flush:
        flush_writer(local, flush_timeout_s)
    return _listed(text, pafs.LocalFileSystem(), str(local), local)


def s3_filesystem(endpoint_url: str | None, region: str | None) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem; credentials come from the standard AWS chain."""
    options: dict[str, Any] = {}
    if region:
        options["region"] = region
    if endpoint_url:
        parts = urlsplit(endpoint_url)
        options["endpoint_override"] = parts.netloc or parts.path
        options["scheme"] = parts.scheme or "https"
    return pafs.S3FileSystem(**options)


def flush_writer(log_dir: Path, timeout_s: float) -> None:
    """Have the writer of `log_dir` write out every event published so far. A logger that
    has just logged may still be starting its writer: then wait for it (within the time)."""
    state = StateDir.for_log_dir(log_dir)
    deadline = time.monotonic() + timeout_s
    while not control.writer_running(state):
        pending = ring_pending_bytes(state)
        if not pending:
            return
        if not control.producer_pids(state.producers_lock) or time.monotonic() > deadline:
            log.warning(
                "%d bytes of events in the ring of %s are not written yet (no writer is "
                "running); reading what is written",
                pending,
                log_dir,
            )
            return
        time.sleep(0.02)  # a producer's watchdog starts the writer within about a second
    left = max(deadline - time.monotonic(), 0.1)
    if control.flush(state, left) != ControlExit.DONE:
        log.warning(
            "the writer of %s did not flush within %s s; reading anyway", log_dir, timeout_s
        )


def ring_pending_bytes(state: StateDir) -> int:
    """Bytes published into the directory's ring and not yet committed to Parquet."""
    ring = Ring.attach(state)
    if ring is None:
        return 0
    try:
        return max(ring.head - ring.committed, 0)
    finally:
        ring.close()


def is_part_file(relative: str) -> bool:
    """True for a published part file, given its path relative to the source's root."""
    parts = relative.split("/")
    if any(part.startswith(("_", ".")) for part in parts):
        return False
    return parts[-1].endswith(".parquet")


def _listed(uri: str, fs: pafs.FileSystem, root: str, local: Path | None) -> Source:
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    except FileNotFoundError:
        infos = []
    files: list[pafs.FileInfo] = []
    keys: dict[str, None] = {}
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        relative = info.path[len(root) :].lstrip("/")
        if not is_part_file(relative):
            continue
        files.append(info)
        for part in relative.split("/")[:-1]:
            if "=" in part:
                keys[part.split("=", 1)[0]] = None
    # Part file names start with their UTC time: sorted by name within a partition, so the
    # first and last files are the oldest and the newest schema.
    files.sort(key=lambda info: (info.base_name, info.path))
    return Source(uri, fs, root, tuple(files), local, tuple(keys))
