"""`ParquetLogger`: the LangChain callback handler, a façade. Each callback becomes one
`CallbackEvent`, which `_record` (the one guard) turns into a row's content (`content`), a ring
record (`record`) and puts on the directory's shared-memory ring; the writer process does all
file and network I/O.

Invariant (the hot path): once attached, a callback builds its record, encodes it, takes the
ring lock, copies the bytes and releases it: no file or network I/O, no thread start, no wait
beyond `queue_full_timeout_s` (then the event is dropped and counted), and nothing raised
into LangChain."""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any
from uuid import UUID

from parquet_logger.capture.callbacks import LangChainCallbacks
from parquet_logger.capture.content import ContentBuilder
from parquet_logger.capture.event import CallbackEvent
from parquet_logger.capture.events import EventType, ignore_flags
from parquet_logger.capture.record import RecordBuilder
from parquet_logger.capture.settings import (
    DEFAULT_LOG_DIR,
    LoggerSettings,
    logger_default,
    s3_settings,
)
from parquet_logger.capture.tagging import CUSTOM_ID_PREFIX
from parquet_logger.encode.redaction import RedactHook
from parquet_logger.s3config import S3Config, s3_default
from parquet_logger.transport import attachment as attachment_registry
from parquet_logger.transport import forking
from parquet_logger.transport.ring import RingStats
from parquet_logger.transport.statedir import StateDir
from parquet_logger.transport.writer_config import WRITER_DEFAULTS
from parquet_logger.warning_limiter import WarningLimiter

log = logging.getLogger("parquet_logger")
_EVENT_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_live_loggers: weakref.WeakSet[ParquetLogger] = weakref.WeakSet()


class ParquetLogger(LangChainCallbacks):
    """Record LangChain events as Parquet rows under `log_dir`.

    Args:
        log_dir: the dataset directory (created if missing).
        buffer_size: flush after this many buffered events (None: by time and size only).
        logger_metadata: a JSON-able dict stored with every row (secrets redacted).
        partition_on: "date", "event_type", ["date", "event_type"], or None (flat).
        event_types: the events to record (strings or EventType); default: the LLM events.
        flush_interval_s: the longest an event waits in the ring before the writer
            publishes it unasked (default 60 s: at most one file per minute and partition
            for a steady trickle); flush(), the read API and exit publish at once.
        max_file_bytes: target size of one Parquet file (uncompressed rows buffered).
        ring_size_bytes: size of the shared-memory ring (the queue to the writer).
        on_queue_full: "block" (wait up to queue_full_timeout_s, then drop and count) or
            "drop" (drop at once and count).
        queue_full_timeout_s: the longest a callback waits for room in a full ring.
        max_event_bytes: payloads above this are truncated (with a `truncated` marker).
        max_tracked_runs: how many started runs are remembered for their end events.
        atexit_timeout_s: how long interpreter exit waits for this process's events to be
            durable.
        start_writer: start a writer for the directory when none is running.
        s3_bucket, s3_prefix, s3_on_failure, s3_retry_attempts: upload every finished file
            to S3 (see S3Config); or pass `s3_config=S3Config(...)` for every setting.
        redact_keys: more key names whose values are stored as "***", on top of the
            built-in credential names (`api_key`, `token`, `password`, `Authorization`...);
            compared by their words, so "badge_no" also matches "BadgeNo" and "badge-no".
        redact_patterns: more regexes (str or compiled); their matches in any string of the
            payload, the typed columns and logger_metadata become "***".
        redact: `redact(path, value) -> str`, called for every string of the payload after
            the other rules (`path`: the keys and list positions, as strings, from the
            payload's root, e.g. ("data", "messages", "0", "1", "content")); it returns
            what to store (the value, a mask, a hash, ""). If it raises (or returns a
            non-str), the event is stored with its content replaced by
            "redact hook failed: <type>" and `stats()["redact_hook_failures"]` counts it.
            A logger pickles with its hook: pass a module-level function (pickled by
            name) if the logger goes to spawn or forkserver workers; a lambda or a
            nested function cannot be pickled.

    Raises:
        ValueError, TypeError: a parameter is invalid (the message names it).
        OSError: the log directory cannot be created or written.
    """

    raise_error = False
    run_inline = True  # never worth an executor hop: a callback costs microseconds

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = DEFAULT_LOG_DIR,
        buffer_size: int | None = WRITER_DEFAULTS.buffer_size,
        logger_metadata: Mapping[str, Any] | None = None,
        partition_on: str | Sequence[str] | None = logger_default("partition_on"),
        event_types: Iterable[str | EventType] | None = None,
        s3_bucket: str | S3Config | None = None,
        s3_prefix: str = s3_default("prefix"),
        s3_on_failure: str = s3_default("on_failure"),
        s3_retry_attempts: int = s3_default("retry_attempts"),
        s3_config: S3Config | None = None,
        *,
        flush_interval_s: float = WRITER_DEFAULTS.flush_interval_s,
        max_file_bytes: int = WRITER_DEFAULTS.max_file_bytes,
        ring_size_bytes: int = WRITER_DEFAULTS.ring_size_bytes,
        on_queue_full: str = logger_default("on_queue_full"),
        queue_full_timeout_s: float = logger_default("queue_full_timeout_s"),
        max_event_bytes: int = logger_default("max_event_bytes"),
        max_tracked_runs: int = logger_default("max_tracked_runs"),
        atexit_timeout_s: float = logger_default("atexit_timeout_s"),
        start_writer: bool = logger_default("start_writer"),
        redact_keys: Iterable[str] = (),
        redact_patterns: Iterable[str | re.Pattern[str]] = (),
        redact: RedactHook | None = None,
    ) -> None:
        settings = LoggerSettings(
            log_dir=log_dir,  # type: ignore[arg-type]
            buffer_size=buffer_size,
            logger_metadata=logger_metadata,
            partition_on=partition_on,
            event_types=event_types,
            flush_interval_s=flush_interval_s,
            max_file_bytes=max_file_bytes,
            ring_size_bytes=ring_size_bytes,
            on_queue_full=on_queue_full,
            queue_full_timeout_s=queue_full_timeout_s,
            max_event_bytes=max_event_bytes,
            max_tracked_runs=max_tracked_runs,
            atexit_timeout_s=atexit_timeout_s,
            start_writer=start_writer,
            s3=s3_settings(s3_bucket, s3_prefix, s3_on_failure, s3_retry_attempts, s3_config),
            redact_keys=redact_keys,
            redact_patterns=redact_patterns,
            redact=redact,
        )
        self._setup(settings)

    def _setup(self, settings: LoggerSettings) -> None:
        self.settings = settings
        self.log_dir = settings.log_dir
        self.event_types = settings.enabled
        self._ignore = ignore_flags(settings.enabled)
        self._content = ContentBuilder(settings)
        self._records = RecordBuilder(settings)
        self._wait_s = settings.queue_wait_s
        self._lock_wait_s = settings.queue_full_timeout_s
        self._failures = 0
        self._dropped = 0
        self._warnings = WarningLimiter(log)
        self._state = StateDir.for_log_dir(settings.log_dir)
        _check_writable(self._state)
        self._attachment: attachment_registry.Attachment | None = attachment_registry.acquire(
            self._state, settings.writer, start_writer=settings.start_writer
        )
        self._attachment.atexit_timeout_s = max(
            self._attachment.atexit_timeout_s, settings.atexit_timeout_s
        )
        # A logger dropped without close() gives its reference back when it is collected, so
        # that its writer (which drains the ring first) and ring do not live on until the
        # interpreter exits; at exit, the exit flush does that instead.
        previous = getattr(self, "_detach_unreferenced", None)
        if previous is not None:  # re-attaching: the old attachment was released or closed
            previous.detach()
        self._detach_unreferenced = weakref.finalize(self, _release_unreferenced, self._attachment)
        self._detach_unreferenced.atexit = False
        _live_loggers.add(self)

    # ------------------------------------------------------------------ the one hand-off
    def _record(self, event: CallbackEvent) -> None:
        """The boundary guard around every callback: whatever goes wrong while recording is
        counted and logged at a limited rate, never raised into LangChain."""
        try:
            content = self._content.of(event)
            if content is not None:
                self._emit(event.event_type, self._records.build(event, content))
        except Exception as exc:
            self._failed(event.event_type, exc)

    def _emit(self, event_type: EventType | str, body: bytes) -> bool:
        """Put one record on the ring; False (counted, reported) when it was dropped."""
        attachment = self._attachment
        if attachment is None or attachment.closed:
            attachment = self._reattach()
        if attachment.put(body, self._wait_s, self._lock_wait_s):
            return True
        self._dropped += 1
        reason = attachment.drop_reason()  # per holder or "ring full": rate-limited apart
        self._report(reason, f"{reason}, {self._dropped} event(s) dropped so far", event_type)
        return False

    def _reattach(self) -> attachment_registry.Attachment:
        # A callback after close() (or after the atexit detach): correctness over speed.
        self._setup(self.settings)
        assert self._attachment is not None
        return self._attachment

    def _failed(self, event_type: EventType | str, exc: BaseException) -> None:
        """Count a callback failure and warn, at most once a minute per event type."""
        self._failures += 1
        message = f"{type(exc).__name__}: {exc} ({self._failures} failure(s))"
        self._report(("callback failure", str(event_type)), message, event_type)

    def _report(self, kind: Hashable, message: str, event_type: EventType | str) -> None:
        """Warn, at most once a minute per kind (a flood of one kind hides no other)."""
        self._warnings.warn(kind, "parquet-logger %s for %s: %s", event_type, self.log_dir, message)

    # ------------------------------------------------------------------ own events
    def log_event(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        custom_id: str | None = None,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
    ) -> bool:
        """Log an event of your own (e.g. `background_retrieval_complete`) as one row, in the
        standard payload envelope. Never raises for a bad payload (safe_json's fallbacks).

        Args:
            event_type: letters, digits and `_` (it may become a partition folder).
            data: the event's fields (the payload's `data`).
            custom_id: the row's custom id (added to `tags` as `logger_custom_id:<id>`).
            run_id, parent_run_id: to join the event to LangChain runs.
            tags: more tags.

        Returns:
            True when the event is in the ring, False when it was dropped (full ring).

        Raises:
            ValueError: `event_type` is not a safe name.
        """
        if not isinstance(event_type, str) or not _EVENT_NAME.fullmatch(event_type):
            raise ValueError(
                f"event_type must be letters, digits and '_' (1-64 chars), got {event_type!r}"
            )
        all_tags = list(tags or [])
        if custom_id is not None:
            all_tags.insert(0, f"{CUSTOM_ID_PREFIX}{custom_id}")
        event = CallbackEvent(event_type, run_id, parent_run_id, all_tags, dict(data), {})
        return self._emit(event_type, self._records.build(event, self._content.own(event)))

    # ------------------------------------------------------------------ control
    def flush(self, timeout: float = 30.0) -> None:
        """Return once every event this process logged to this directory is in a durable
        Parquet file.

        Raises:
            TimeoutError: the writer did not get there within `timeout` seconds.
            EventsLostError: the writer skipped a corrupt span of the ring among the events
                this process logged since its last flush (some of them are lost).
        """
        attachment = self._attachment
        if attachment is None or attachment.closed:
            return
        attachment.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush (bounded by `timeout`, default atexit_timeout_s) and detach this logger."""
        attachment = self._attachment
        if attachment is None:
            return
        try:
            if not attachment.closed:
                attachment.flush(self.settings.atexit_timeout_s if timeout is None else timeout)
        finally:
            self._attachment = None
            self._detach_unreferenced.detach()
            attachment_registry.release(attachment)

    def stats(self) -> dict[str, Any]:
        """Counters: this logger's callback failures, drops and failed redact hook calls, and
        the ring's figures."""
        attachment = self._attachment
        ring: RingStats | None = (
            attachment.stats() if attachment and not attachment.closed else None
        )
        return {
            "callback_failures": self._failures,
            "dropped_events": self._dropped,
            "redact_hook_failures": self.settings.redactor.hook_failures,
            "ring": ring,
        }

    def __enter__(self) -> ParquetLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ copies and pickling
    def __copy__(self) -> ParquetLogger:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ParquetLogger:
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickles to its configuration only: the new process attaches on its own."""
        # Every constructor field of the settings (the derived ones are rebuilt on load).
        return {f.name: getattr(self.settings, f.name) for f in fields(self.settings) if f.init}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("event_types") is not None:
            state["event_types"] = [str(e) for e in state["event_types"]]
        self._setup(LoggerSettings(**state))

    def __repr__(self) -> str:
        return f"ParquetLogger(log_dir={self.log_dir!r})"


def _check_writable(state: StateDir) -> None:
    """Fail at construction, not later in the writer, when the directory is unusable."""
    try:
        state.ensure()
        probe = state.log_dir / f".parquet-logger-probe-{os.getpid()}.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OSError(
            exc.errno, f"log_dir {str(state.log_dir)!r} is not a writable directory: {exc}"
        ) from exc


def _release_unreferenced(attachment: attachment_registry.Attachment) -> None:
    """A collected logger's reference, given back from a thread of its own: a collection
    can run while this thread holds the registry's lock."""
    threading.Thread(
        target=attachment_registry.release,
        args=(attachment,),
        name="parquet-logger-release",
        daemon=True,
    ).start()


def _reset_after_fork() -> None:
    for logger in list(_live_loggers):
        logger._records.after_fork()


forking.register(_reset_after_fork)
