"""The logger's configuration, validated once at construction."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from parquet_logger.capture.events import EventType, parse_event_types
from parquet_logger.columns import PARTITION_KEYS
from parquet_logger.encode.redaction import RedactHook, Redactor
from parquet_logger.encode.safe_json import safe_json
from parquet_logger.s3config import S3Config
from parquet_logger.transport.writer_config import MIB, WRITER_DEFAULTS, WriterSettings
from parquet_logger.validation import require_bool, require_choice, require_int, require_seconds

QUEUE_FULL_POLICIES = ("block", "drop")
DEFAULT_LOG_DIR = "./llm_logs"


def parse_partition_on(value: object) -> tuple[str, ...]:
    """`partition_on` as a tuple of hive keys: "date", "event_type", both (a list or
    "date/event_type"), or None for a flat directory.

    Raises:
        TypeError: neither a string, a list of strings nor None.
        ValueError: any other value.
    """
    accepted = "accepted: 'date', 'event_type', ['date', 'event_type'] (or 'date/event_type'), None"
    if value is None:
        return ()
    keys: list[str]
    if isinstance(value, str):
        keys = [k for k in value.replace(",", "/").split("/") if k]
    elif isinstance(value, Iterable):
        keys = list(value)
    else:
        raise TypeError(f"partition_on: got {value!r}; {accepted}")
    if not keys or len(set(keys)) != len(keys) or any(k not in PARTITION_KEYS for k in keys):
        raise ValueError(f"partition_on: got {value!r}; {accepted}")
    return tuple(sorted(keys, key=PARTITION_KEYS.index))


@dataclass(frozen=True)
class LoggerSettings:
    """Everything a ParquetLogger is configured with; see ParquetLogger for the meaning.

    The writer-level settings (buffer_size, flush_interval_s, max_file_bytes,
    ring_size_bytes, s3) take their defaults and their checks from WriterSettings.
    """

    log_dir: str = DEFAULT_LOG_DIR
    buffer_size: int | None = WRITER_DEFAULTS.buffer_size
    logger_metadata: Mapping[str, Any] | None = None
    partition_on: Any = "date"
    event_types: Iterable[str | EventType] | None = None
    flush_interval_s: float = WRITER_DEFAULTS.flush_interval_s
    max_file_bytes: int = WRITER_DEFAULTS.max_file_bytes
    ring_size_bytes: int = WRITER_DEFAULTS.ring_size_bytes
    on_queue_full: str = "block"
    queue_full_timeout_s: float = 5.0
    max_event_bytes: int = 4 * MIB
    max_tracked_runs: int = 100_000
    atexit_timeout_s: float = 30.0
    start_writer: bool = True
    s3: S3Config | None = WRITER_DEFAULTS.s3
    redact_keys: Iterable[str] = ()
    redact_patterns: Iterable[str | re.Pattern[str]] = ()
    redact: RedactHook | None = None

    # Derived once here so that the per-event path reads plain attributes.
    writer: WriterSettings = field(init=False)
    partition_keys: tuple[str, ...] = field(init=False)
    enabled: frozenset[EventType] = field(init=False)
    logger_metadata_json: str = field(init=False)
    # Derived from redact_keys, redact_patterns and redact (which are compared): not compared.
    redactor: Redactor = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.log_dir, str | os.PathLike):
            raise TypeError(f"log_dir must be a path, got {type(self.log_dir).__name__}")
        # Absolute now: a pickled copy or a re-attach after os.chdir must find the same place.
        object.__setattr__(self, "log_dir", os.path.abspath(os.fspath(self.log_dir)))
        writer = WriterSettings(
            flush_interval_s=self.flush_interval_s,
            max_file_bytes=self.max_file_bytes,
            ring_size_bytes=self.ring_size_bytes,
            buffer_size=self.buffer_size,
            s3=self.s3,
        )
        object.__setattr__(self, "writer", writer)
        if self.s3 is not None:
            _require_boto3()
        object.__setattr__(self, "partition_keys", parse_partition_on(self.partition_on))
        object.__setattr__(self, "enabled", parse_event_types(self.event_types))
        require_seconds("atexit_timeout_s", self.atexit_timeout_s)
        require_seconds("queue_full_timeout_s", self.queue_full_timeout_s, allow_zero=True)
        for name in ("max_event_bytes", "max_tracked_runs"):
            require_int(name, getattr(self, name))
        require_bool("start_writer", self.start_writer)
        require_choice("on_queue_full", self.on_queue_full, QUEUE_FULL_POLICIES)
        if self.max_event_bytes < 4096 or self.max_event_bytes > self.ring_size_bytes // 4:
            raise ValueError(
                f"max_event_bytes must be between 4096 and ring_size_bytes / 4 "
                f"({self.ring_size_bytes // 4}), got {self.max_event_bytes}"
            )
        # Tuples: the settings are frozen, compared and pickled (a generator would be used up).
        object.__setattr__(self, "redact_keys", _redact_keys(self.redact_keys))
        object.__setattr__(self, "redact_patterns", _redact_patterns(self.redact_patterns))
        if self.redact is not None and not callable(self.redact):
            raise TypeError(
                f"redact must be a function (path, value) -> str or None, got {self.redact!r}"
            )
        redactor = Redactor(self.redact_keys, self.redact_patterns, self.redact)
        object.__setattr__(self, "redactor", redactor)
        metadata_json = _metadata_json(self.logger_metadata, self.max_event_bytes, redactor)
        object.__setattr__(self, "logger_metadata_json", metadata_json)

    @property
    def queue_wait_s(self) -> float:
        """How long a put waits for room in a full ring before it counts a drop."""
        return self.queue_full_timeout_s if self.on_queue_full == "block" else 0.0


def logger_default(name: str) -> Any:
    """The default of LoggerSettings field `name`: ParquetLogger's signature reads its
    defaults here, so that the two cannot disagree."""
    return next(f.default for f in fields(LoggerSettings) if f.name == name)


def _require_boto3() -> None:
    """Fail at construction, not in the writer later: the writer this logger starts runs
    with this interpreter, so without boto3 here nothing would ever be uploaded.

    Raises:
        ImportError: boto3 cannot be imported (found, not imported: the hot path stays light).
    """
    try:
        found = importlib.util.find_spec("boto3") is not None
    except (ImportError, ValueError):  # a broken or half-removed install
        found = False
    if not found:
        raise ImportError(
            'uploading to S3 (s3_bucket / s3_config) needs boto3: pip install "parquet-logger[s3]"'
        )


def _redact_keys(keys: object) -> tuple[str, ...]:
    """`redact_keys` as a tuple of non-empty strings.

    Raises:
        TypeError: a single string (a common slip for a list of one) or a non-string item.
        ValueError: an empty name.
    """
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise TypeError(f"redact_keys must be a list of key names, got {keys!r}")
    names = tuple(keys)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"redact_keys must hold strings, got {name!r}")
        if not name.strip():
            raise ValueError("redact_keys must not hold an empty name")
    return names


def _redact_patterns(patterns: object) -> tuple[str | re.Pattern[str], ...]:
    """`redact_patterns` as a tuple of regexes (str or compiled), each checked to compile.

    Raises:
        TypeError: a single string, or an item that is neither a str nor a str pattern.
        ValueError: a pattern that does not compile, or one that matches the empty string.
    """
    if isinstance(patterns, str | re.Pattern) or not isinstance(patterns, Iterable):
        raise TypeError(f"redact_patterns must be a list of regexes, got {patterns!r}")
    items = tuple(patterns)
    for item in items:
        source = item.pattern if isinstance(item, re.Pattern) else item
        if not isinstance(source, str):
            raise TypeError(f"redact_patterns must hold str regexes, got {item!r}")
        try:
            compiled = re.compile(item)
        except re.error as exc:
            raise ValueError(f"redact_patterns: {item!r} is not a valid regex: {exc}") from None
        if compiled.fullmatch(""):
            raise ValueError(f"redact_patterns: {item!r} matches the empty string")
    return items


def _metadata_json(metadata: object, max_bytes: int, redactor: Redactor) -> str:
    """`logger_metadata` as JSON with secrets redacted (keys, credential shapes and the
    user's patterns; the hook is for event payloads), bounded like a payload.

    Raises:
        TypeError: not a dict of values JSON can hold.
    """
    if metadata is None:
        return "{}"
    if not isinstance(metadata, Mapping):
        raise TypeError(
            f"logger_metadata must be a dict of JSON values, got {type(metadata).__name__}"
        )
    try:
        encoded = orjson.dumps(dict(metadata), option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise TypeError(f"logger_metadata must be JSON-serializable: {exc}") from None
    # Parsed back first, so that keys are judged as the strings they became (an Enum key).
    data = safe_json(orjson.loads(encoded), max_bytes, redactor)[0]
    return redactor.mask_json(data, hook=False).decode()


def s3_settings(
    s3_bucket: str | S3Config | None,
    s3_prefix: str,
    s3_on_failure: str,
    s3_retry_attempts: int,
    s3_config: S3Config | None,
) -> S3Config | None:
    """The one S3Config that the logger's S3 parameters describe (or None: no upload).

    `s3_config` wins; an S3Config passed where the bucket goes (the 6th positional argument
    of the package users come from) is taken as `s3_config`.
    """
    if isinstance(s3_bucket, S3Config):
        s3_bucket, s3_config = None, s3_bucket
    if s3_config is not None:
        if s3_bucket is not None and s3_bucket != s3_config.bucket:
            raise ValueError(
                f"s3_bucket {s3_bucket!r} contradicts s3_config.bucket {s3_config.bucket!r}"
            )
        return s3_config
    if s3_bucket is None:
        return None
    return S3Config(
        bucket=s3_bucket,
        prefix=s3_prefix,
        on_failure=s3_on_failure,
        retry_attempts=s3_retry_attempts,
    )
