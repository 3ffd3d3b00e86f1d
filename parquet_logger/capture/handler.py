"""`ParquetLogger`: the LangChain callback handler. Each callback builds one record and puts it
on the directory's shared-memory ring; the writer process does all file and network I/O."""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from parquet_logger.capture.events import EventType, ignore_flags
from parquet_logger.capture.llm_facts import (
    error_type_of,
    llm_end_facts,
    name_of,
    start_model_facts,
)
from parquet_logger.capture.record import RecordBuilder
from parquet_logger.capture.settings import LoggerSettings, s3_settings
from parquet_logger.capture.tagging import CUSTOM_ID_PREFIX
from parquet_logger.encode.safe_json import describe_exception
from parquet_logger.s3config import S3Config
from parquet_logger.transport import attachment as attachment_registry
from parquet_logger.transport import forking
from parquet_logger.transport.ring import RingStats
from parquet_logger.transport.statedir import StateDir
from parquet_logger.transport.writer_config import WRITER_DEFAULTS, s3_default
from parquet_logger.warning_limiter import WarningLimiter

log = logging.getLogger("parquet_logger")
_EVENT_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_live_loggers: weakref.WeakSet[ParquetLogger] = weakref.WeakSet()


class ParquetLogger(BaseCallbackHandler):
    """Record LangChain events as Parquet rows under `log_dir`.

    Args:
        log_dir: the dataset directory (created if missing).
        buffer_size: flush after this many buffered events (None: by time and size only).
        logger_metadata: a JSON-able dict stored with every row (secrets redacted).
        partition_on: "date", "event_type", ["date", "event_type"], or None (flat).
        event_types: the events to record (strings or EventType); default: the LLM events.
        flush_interval_s: the writer writes what it holds at least this often.
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

    Raises:
        ValueError, TypeError: a parameter is invalid (the message names it).
        OSError: the log directory cannot be created or written.
    """

    raise_error = False
    run_inline = True  # never worth an executor hop: a callback costs microseconds

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "./llm_logs",
        buffer_size: int | None = WRITER_DEFAULTS.buffer_size,
        logger_metadata: Mapping[str, Any] | None = None,
        partition_on: str | Sequence[str] | None = "date",
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
        on_queue_full: str = "block",
        queue_full_timeout_s: float = 5.0,
        max_event_bytes: int = 4 * 1024 * 1024,
        max_tracked_runs: int = 100_000,
        atexit_timeout_s: float = 30.0,
        start_writer: bool = True,
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
        )
        self._setup(settings)

    def _setup(self, settings: LoggerSettings) -> None:
        self.settings = settings
        self.log_dir = settings.log_dir
        self.event_types = settings.enabled
        self._ignore = ignore_flags(settings.enabled)
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
        _live_loggers.add(self)

    # ------------------------------------------------------------------ LangChain switches
    @property
    def ignore_llm(self) -> bool:
        return self._ignore["ignore_llm"]

    @property
    def ignore_chat_model(self) -> bool:
        return self._ignore["ignore_chat_model"]

    @property
    def ignore_chain(self) -> bool:
        return self._ignore["ignore_chain"]

    @property
    def ignore_agent(self) -> bool:
        return self._ignore["ignore_agent"]

    @property
    def ignore_retriever(self) -> bool:
        return self._ignore["ignore_retriever"]

    @property
    def ignore_retry(self) -> bool:
        return self._ignore["ignore_retry"]

    @property
    def ignore_custom_event(self) -> bool:
        return self._ignore["ignore_custom_event"]

    # ------------------------------------------------------------------ the one hand-off
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

    def _failed(self, event_type: EventType, exc: BaseException) -> None:
        """The boundary guard: count, log at a limited rate, never raise into LangChain."""
        self._failures += 1
        message = f"{type(exc).__name__}: {exc} ({self._failures} failure(s))"
        self._report(("callback failure", str(event_type)), message, event_type)

    def _report(self, kind: Hashable, message: str, event_type: EventType | str) -> None:
        """Warn, at most once a minute per kind (a flood of one kind hides no other)."""
        self._warnings.warn(kind, "parquet-logger %s for %s: %s", event_type, self.log_dir, message)

    def _wants(self, event_type: EventType) -> bool:
        return event_type in self.event_types

    # ------------------------------------------------------------------ LLM events
    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(
            EventType.LLM_START,
            "llm",
            serialized,
            "prompts",
            prompts,
            run_id,
            parent_run_id,
            tags,
            metadata,
            kwargs,
        )

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(
            EventType.CHAT_MODEL_START,
            "chat_model",
            serialized,
            "messages",
            messages,
            run_id,
            parent_run_id,
            tags,
            metadata,
            kwargs,
        )

    def _model_start(
        self,
        event_type: EventType,
        run_type: str,
        serialized: dict[str, Any] | None,
        inputs_name: str,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        try:
            params = kwargs.get("invocation_params") or {}
            model, provider, llm_type = start_model_facts(params, metadata)
            name = name_of(serialized, kwargs)
            run = self._records.start(run_id, metadata, run_type, name, model, provider)
            if not self._wants(event_type):
                return
            shared_inputs = self._records.fragment(inputs)
            shared_params = self._records.fragment(params)
            data = {
                inputs_name: shared_inputs,
                "llm_type": llm_type,
                "model": model,
                "provider": provider,
                "name": name,
                "invocation_params": shared_params,
            }
            raw_kwargs = dict(kwargs)
            if "invocation_params" in raw_kwargs:
                raw_kwargs["invocation_params"] = shared_params
            raw = {inputs_name: shared_inputs, "kwargs": raw_kwargs}
            body = self._records.build(
                event_type, run_id, parent_run_id, tags, data, raw, run=run, serialized=serialized
            )
            self._emit(event_type, body)
        except Exception as exc:
            self._failed(event_type, exc)

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        event_type = EventType.LLM_NEW_TOKEN
        if not self._wants(event_type):
            return
        try:
            run = self._records.runs.get(run_id)
            data = {"token": token}
            raw = {"token": token, "chunk": chunk, "kwargs": kwargs}
            body = self._records.build(event_type, run_id, parent_run_id, tags, data, raw, run=run)
            self._emit(event_type, body)
        except Exception as exc:
            self._failed(event_type, exc)

    def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        event_type = EventType.LLM_END
        try:
            run = self._records.runs.pop(run_id)
            if not self._wants(event_type):
                return
            facts = llm_end_facts(response)
            data = {
                "text": facts.text,
                "texts": facts.texts,
                "finish_reason": facts.finish_reason,
                "usage": facts.usage.as_dict(),
                "model": facts.model,
                "llm_output": getattr(response, "llm_output", None),
            }
            raw = {"response": response, "kwargs": kwargs}
            body = self._records.build(
                event_type,
                run_id,
                parent_run_id,
                tags,
                data,
                raw,
                run=run,
                ending=True,
                usage=facts.usage,
                model=facts.model,
            )
            self._emit(event_type, body)
        except Exception as exc:
            self._failed(event_type, exc)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._error(EventType.LLM_ERROR, error, run_id, parent_run_id, tags, kwargs)

    def _error(
        self,
        event_type: EventType,
        error: BaseException,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        kwargs: dict[str, Any],
    ) -> None:
        try:
            run = self._records.runs.pop(run_id)
            if not self._wants(event_type):
                return
            # Formatting a traceback is the costly part: do it once for data and raw.
            described = self._records.fragment(describe_exception(error))
            data = {"error": described}
            raw = {"error": described, "kwargs": kwargs}
            body = self._records.build(
                event_type,
                run_id,
                parent_run_id,
                tags,
                data,
                raw,
                run=run,
                ending=True,
                error_type=error_type_of(error),
            )
            self._emit(event_type, body)
        except Exception as exc:
            self._failed(event_type, exc)

    # ------------------------------------------------------------------ chains, tools, retrievers
    def _start(
        self,
        event_type: EventType,
        run_type: str,
        serialized: dict[str, Any] | None,
        data: dict[str, Any],
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        try:
            name = name_of(serialized, kwargs)
            run = self._records.start(run_id, metadata, run_type, name)
            if not self._wants(event_type):
                return
            raw: dict[str, Any] = {k: self._records.fragment(v) for k, v in data.items()}
            data = {**raw, "name": name}
            raw["kwargs"] = kwargs
            body = self._records.build(
                event_type, run_id, parent_run_id, tags, data, raw, run=run, serialized=serialized
            )
            self._emit(event_type, body)
        except Exception as exc:
            self._failed(event_type, exc)

    def _end(
        self,
        event_type: EventType,
        data: dict[str, Any],
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        kwargs: dict[str, Any],
    ) -> None:
        try:
            run = self._records.runs.pop(run_id)
            if not self._wants(event_type):
                return
            data = {k: self._records.fragment(v) for k, v in data.items()}
            raw = {**data, "kwargs": kwargs}
            body = self._records.build(
                event_type, run_id, parent_run_id, tags, data, raw, run=run, ending=True
            )
            self._emit(event_type, body)
        except Exception as exc:
            self._failed(event_type, exc)

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        run_type = kwargs.get("run_type") or "chain"
        self._start(
            EventType.CHAIN_START,
            run_type,
            serialized,
            {"inputs": inputs},
            run_id,
            parent_run_id,
            tags,
            metadata,
            kwargs,
        )

    def on_chain_end(
        self,
        outputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(EventType.CHAIN_END, {"outputs": outputs}, run_id, parent_run_id, tags, kwargs)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._error(EventType.CHAIN_ERROR, error, run_id, parent_run_id, tags, kwargs)

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        data = {
            "input_str": input_str,
            "inputs": inputs,
            "tool_call_id": kwargs.get("tool_call_id"),
        }
        self._start(
            EventType.TOOL_START,
            "tool",
            serialized,
            data,
            run_id,
            parent_run_id,
            tags,
            metadata,
            kwargs,
        )

    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(EventType.TOOL_END, {"output": output}, run_id, parent_run_id, tags, kwargs)

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._error(EventType.TOOL_ERROR, error, run_id, parent_run_id, tags, kwargs)

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._start(
            EventType.RETRIEVER_START,
            "retriever",
            serialized,
            {"query": query},
            run_id,
            parent_run_id,
            tags,
            metadata,
            kwargs,
        )

    def on_retriever_end(
        self,
        documents: Sequence[Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._end(
            EventType.RETRIEVER_END, {"documents": documents}, run_id, parent_run_id, tags, kwargs
        )

    def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._error(EventType.RETRIEVER_ERROR, error, run_id, parent_run_id, tags, kwargs)

    # ------------------------------------------------------------------ point events
    def _point(
        self,
        event_type: EventType,
        data: dict[str, Any],
        run_id: UUID | None,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        kwargs: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not self._wants(event_type):
            return
        try:
            run = self._records.runs.get(run_id) if run_id is not None else None
            raw = {**data, "kwargs": kwargs}
            if metadata is not None:
                raw["metadata"] = metadata
            body = self._records.build(event_type, run_id, parent_run_id, tags, data, raw, run=run)
            self._emit(event_type, body)
        except Exception as exc:
            self._failed(event_type, exc)

    def on_agent_action(
        self,
        action: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        data = {
            "tool": getattr(action, "tool", None),
            "tool_input": getattr(action, "tool_input", None),
            "log": getattr(action, "log", None),
            "action": action,
        }
        self._point(EventType.AGENT_ACTION, data, run_id, parent_run_id, tags, kwargs)

    def on_agent_finish(
        self,
        finish: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        data = {
            "return_values": getattr(finish, "return_values", None),
            "log": getattr(finish, "log", None),
            "finish": finish,
        }
        self._point(EventType.AGENT_FINISH, data, run_id, parent_run_id, tags, kwargs)

    def on_retry(
        self,
        retry_state: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        outcome = getattr(retry_state, "outcome", None)
        error = outcome.exception() if outcome is not None and outcome.failed else None
        data = {
            "attempt_number": getattr(retry_state, "attempt_number", None),
            "idle_for_s": getattr(retry_state, "idle_for", None),
            "error": describe_exception(error) if error is not None else None,
        }
        tags = kwargs.pop("tags", None)
        self._point(EventType.RETRY, data, run_id, parent_run_id, tags, kwargs)

    def on_text(
        self,
        text: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._point(EventType.TEXT, {"text": text}, run_id, parent_run_id, tags, kwargs)

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        payload = {"name": name, "data": data}
        self._point(EventType.CUSTOM_EVENT, payload, run_id, None, tags, kwargs, metadata)

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
        standard payload envelope. Never raises for a bad payload (jsonsafe's fallbacks).

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
        # No callback arguments to keep: `raw` stays empty rather than repeat `data`.
        body = self._records.build(
            event_type,
            run_id,
            parent_run_id,
            all_tags,
            dict(data),
            {},
            run=self._records.runs.get(run_id) if run_id is not None else None,
        )
        return self._emit(event_type, body)

    # ------------------------------------------------------------------ control
    def flush(self, timeout: float = 30.0) -> None:
        """Return once every event this process logged to this directory is in a durable
        Parquet file.

        Raises:
            TimeoutError: the writer did not get there within `timeout` seconds.
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
            attachment_registry.release(attachment)

    def stats(self) -> dict[str, Any]:
        """Counters: this logger's callback failures and drops, and the ring's figures."""
        attachment = self._attachment
        ring: RingStats | None = (
            attachment.stats() if attachment and not attachment.closed else None
        )
        return {
            "callback_failures": self._failures,
            "dropped_events": self._dropped,
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


def _reset_after_fork() -> None:
    for logger in list(_live_loggers):
        logger._records.after_fork()


forking.register(_reset_after_fork)
