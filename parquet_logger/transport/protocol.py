"""What the client and the writer tell each other besides the ring: exit codes and state files.

Both sides import these definitions; neither writes a key or a code by hand. The ring header
(positions, counters, the writer's pid) is the other half of the protocol: see `ring.py`.

State files live in the state folder (see `statedir.StateDir`) and are replaced atomically:
- `writer.json` (`LiveWriterInfo`): what the live writer does, read by loggers that attach;
- `status.json` (`WriterStatus`): the writer's counters, rewritten every second, read by
  `parquet-logger-daemon status` (its keys are the keys of `status --json`);
- `upload_error.json` (`UploadFailure`): the last definitive upload failure, read by a
  producer's `flush()` once the ring's `upload_failures` word has grown.

Readers tolerate missing and unknown keys: a writer and a logger of neighbouring versions may
share a directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import IntEnum
from pathlib import Path
from typing import Any, ClassVar, Self

import orjson

from parquet_logger.transport.statedir import read_json_object, write_private


class RunExit(IntEnum):
    """Exit codes of `parquet-logger-daemon run` (the writer process)."""

    OK = 0  # drained and stopped (SIGTERM/SIGINT, or idle with --exit-when-idle)
    ERROR = 1  # failed: see the log on stderr
    USAGE = 2  # bad command line (argparse's own code)
    ALREADY_RUNNING = 3  # another writer holds the directory's writer lock
    FORCED = 4  # a second SIGTERM/SIGINT: exited at once, the ring keeps what is unwritten
    LOG_DIR_GONE = 5  # the log directory was deleted: ring removed, nothing left to write to


class ControlExit(IntEnum):
    """Exit codes of `parquet-logger-daemon status|flush|stop`."""

    DONE = 0  # done (status: a writer is running)
    FAILED = 1  # failed or timed out
    USAGE = 2  # bad command line
    NO_WRITER = 3  # no writer is running for the directory


def drain_command(log_dir: object) -> str:
    """The command that writes a directory's pending events when no writer runs (said by a
    producer at exit and by flush()'s timeout), exiting once they are written."""
    return f"parquet-logger-daemon run --dir {log_dir} --exit-when-idle"


class StateFile:
    """A state file's keys as dataclass fields (each with a default), with the JSON codec.

    A field whose metadata says `omit_if_none` is left out of the file while None (keys that
    exist only in some configurations, like the S3 counters of status.json).
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]  # set by @dataclass on each subclass

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fld in fields(self):
            value = getattr(self, fld.name)
            if value is None and fld.metadata.get("omit_if_none"):
                continue
            out[fld.name] = value
        return out

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Self:
        """The file's known keys; a missing key takes the field's default, unknown keys are
        ignored."""
        known = {fld.name for fld in fields(cls)}
        return cls(**{key: value for key, value in raw.items() if key in known})

    @classmethod
    def from_json(cls, data: bytes) -> Self:
        """Parse a file's bytes; anything but a JSON object reads as an empty one."""
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError:
            raw = {}
        return cls.from_dict(raw if isinstance(raw, dict) else {})

    @classmethod
    def read(cls, path: Path) -> Self | None:
        """The file at `path`, or None when it is missing, torn or not a JSON object."""
        raw = read_json_object(path)
        return cls.from_dict(raw) if raw else None

    def write(self, path: Path) -> None:
        """Replace the file atomically (owner-only).

        Raises:
            OSError: the state folder cannot be written.
        """
        write_private(path, self.to_json())


_OMIT_IF_NONE = {"omit_if_none": True}


@dataclass(frozen=True)
class LiveWriterInfo(StateFile):
    """writer.json: what the live writer does, for loggers that attach to it."""

    pid: int = 0
    s3_target: str | None = None  # "s3://bucket/prefix", None: no upload


@dataclass(frozen=True)
class UploadFailure(StateFile):
    """upload_error.json: the writer's last definitive upload failure."""

    bucket: str | None = None
    key: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class WriterStatus(StateFile):
    """status.json: the writer's counters and where it stands (advisory: the writer lock, not
    `running`, says whether a writer is alive)."""

    running: bool = False
    pid: int = 0
    started_ns: int = 0
    updated_ns: int = 0
    log_dir: str = ""
    events_received: int = 0
    events_written: int = 0
    invalid_records: int = 0
    corrupt_frames: int = 0  # corrupt spans of the ring skipped (one bad frame or more)
    corrupt_bytes: int = 0  # their bytes
    files_written: int = 0
    flushes: int = 0
    write_errors: int = 0
    last_error: str = ""
    last_flush_ns: int = 0
    events_dropped: int = 0
    ring_capacity: int = 0
    ring_fill: int = 0
    ring_high_water: int = 0
    ring_path: str = ""
    # Only with an S3 upload (last_upload_error: an UploadFailure's keys, or {}):
    s3_target: str | None = field(default=None, metadata=_OMIT_IF_NONE)
    files_pending_upload: int | None = field(default=None, metadata=_OMIT_IF_NONE)
    files_uploaded: int | None = field(default=None, metadata=_OMIT_IF_NONE)
    upload_failures: int | None = field(default=None, metadata=_OMIT_IF_NONE)
    upload_retries: int | None = field(default=None, metadata=_OMIT_IF_NONE)
    last_upload_error: dict[str, Any] | None = field(default=None, metadata=_OMIT_IF_NONE)
