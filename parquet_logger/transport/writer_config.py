"""The writer's settings: one frozen dataclass, the single source of their names and defaults.

A ParquetLogger builds it from its parameters, the spawner hands it to the writer as one JSON
document (`--config-json`), and the writer's command-line flags build the same class. The S3
part is an S3Config (no credentials: boto3 finds those itself), so the document is safe to
show in `ps` and in the writer's log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import orjson

from parquet_logger.s3config import S3Config
from parquet_logger.validation import require_bool, require_int, require_seconds

MIB = 1024 * 1024
MIN_RING_SIZE_BYTES = MIB


@dataclass(frozen=True)
class WriterSettings:
    """Writer-level settings: they come from whichever process starts the writer.

    Args:
        flush_interval_s: the longest a logged event waits, unasked, before the writer
            publishes it in a part file (default one minute, so a steady trickle makes at
            most one file per minute and partition). Meanwhile the ring holds it (the ring
            is the write-ahead log); `flush()`, the read API and exit publish at once, and
            `max_file_bytes`, `buffer_size` and a half-full ring still write earlier.
        max_file_bytes: write a file once this many record bytes are buffered.
        ring_size_bytes: size of the shared-memory ring, when the writer creates it.
        buffer_size: also write once this many events are buffered (None: by time and size).
        exit_when_idle: exit once no producer process is attached (auto-started writers).
        upload_drain_s: how long a stopping writer waits for queued uploads.
        s3: upload every finished file (None: local files only).

    Raises:
        TypeError, ValueError: a setting is invalid (the message names it).
    """

    flush_interval_s: float = 60.0
    max_file_bytes: int = 128 * MIB
    ring_size_bytes: int = 128 * MIB
    buffer_size: int | None = None
    exit_when_idle: bool = False
    upload_drain_s: float = 30.0
    s3: S3Config | None = None

    def __post_init__(self) -> None:
        require_seconds("flush_interval_s", self.flush_interval_s)
        require_seconds("upload_drain_s", self.upload_drain_s)
        require_int("max_file_bytes", self.max_file_bytes)
        require_int("ring_size_bytes", self.ring_size_bytes)
        require_int("buffer_size", self.buffer_size, optional=True)
        require_bool("exit_when_idle", self.exit_when_idle)
        if self.s3 is not None and not isinstance(self.s3, S3Config):
            raise TypeError(f"s3_config must be an S3Config, got {type(self.s3).__name__}")
        if self.ring_size_bytes % 8 or self.ring_size_bytes < MIN_RING_SIZE_BYTES:
            raise ValueError(
                f"ring_size_bytes must be a multiple of 8 and at least {MIN_RING_SIZE_BYTES}, "
                f"got {self.ring_size_bytes}"
            )

    def to_json(self) -> str:
        """One JSON document with every setting (the S3 part as a nested object or null)."""
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> WriterSettings:
        """The settings a `to_json` document describes.

        Raises:
            ValueError: not a JSON object, or a key that is not a setting.
            TypeError: a value of the wrong type (the message names the setting).
        """
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"writer settings are not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ValueError(f"writer settings must be a JSON object, got {document!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(document) - known)
        if unknown:
            raise ValueError(
                f"unknown writer settings {unknown}; accepted: {', '.join(sorted(known))}"
            )
        s3 = document.pop("s3", None)
        if s3 is not None:
            if not isinstance(s3, dict):
                raise TypeError(f"s3 must be a JSON object or null, got {s3!r}")
            document["s3"] = S3Config(**s3)
        return cls(**document)


WRITER_DEFAULTS = WriterSettings()
