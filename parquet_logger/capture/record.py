"""Turn one callback's content into one ring record: the typed columns and the payload envelope.

The payload is `{"event_type", "timestamp", "execution": {run_id, parent_run_id, custom_id,
tags, metadata}, "data": {curated fields}, "raw": {every callback argument}}`, encoded by
`encode.safe_json` (bounded, secrets redacted, never raises). A typed value that its column
cannot hold is replaced or nulled and named in the payload's `repaired` list (`repair`).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from parquet_logger.capture.event import CallbackEvent, Content
from parquet_logger.capture.llm_facts import Usage
from parquet_logger.capture.repair import counts_fit_int64, mark_repaired, repair_columns
from parquet_logger.capture.runs import RunStart
from parquet_logger.capture.settings import LoggerSettings
from parquet_logger.capture.tagging import custom_id_from_tags
from parquet_logger.encode.safe_json import envelope_json
from parquet_logger.transport import wire
from parquet_logger.transport.statedir import host_name

try:  # run ids are UUIDv7 in LangChain; event ids follow suit (time-sortable, ~0.2 us)
    from uuid_utils import uuid7 as _new_event_id
except ImportError:  # pragma: no cover - uuid_utils ships with langchain-core >= 1
    from uuid import uuid4 as _new_event_id  # type: ignore[assignment]

_US_PER_DAY = 86_400_000_000
_NO_USAGE = Usage()
_NO_RUN = RunStart(0, None, None, None, None, None)  # an event outside any known run


class RecordBuilder:
    """Builds ring bodies for one logger; costly decisions are made once, here."""

    def __init__(self, settings: LoggerSettings) -> None:
        self._keys = settings.partition_keys
        self._metadata_json = settings.logger_metadata_json
        self._max_event_bytes = settings.max_event_bytes
        self._redactor = settings.redactor
        # A response id is the provider's identifier, never a credential's shape: only the
        # user's own patterns could want it masked (a shape scan costs ~1.4 us an id).
        self._mask_ids = bool(settings.redactor.patterns)
        self._host = host_name()
        self._pid = os.getpid()
        self._day = -1
        self._date = ""

    def after_fork(self) -> None:
        self._pid = os.getpid()

    def build(self, event: CallbackEvent, content: Content) -> bytes:
        """The ring body of one event: its typed columns and its payload.

        One clock read stamps the event: the `timestamp` column, the payload's `timestamp`,
        the partition date and the latency all come from it. A start event's is its run's
        start, so its row's `timestamp` is the end row's `start_time`.
        """
        now_ns = content.at_ns or time.time_ns()
        ts_us = now_ns // 1000
        kind = str(event.event_type)  # EventType is a StrEnum: its str is the value
        run, run_id, parent_run_id = content.run, event.run_id, event.parent_run_id
        started = _NO_RUN if run is None else run
        custom_id = custom_id_from_tags(event.tags)
        head = {
            "event_type": kind,
            # ts_us / 1e6 is within 0.25 us of the exact value (a double's precision at epoch
            # seconds before 2106), so rounding to the microsecond gives back ts_us.
            "timestamp": datetime.fromtimestamp(ts_us / 1e6, UTC),
            # A root run's parent is "" and absent metadata {}, as in the package users come
            # from (their code tests `== ""`), and as the parent_run_id column has it.
            "execution": {
                "run_id": run_id,
                "parent_run_id": parent_run_id or "",
                "custom_id": custom_id,
                "tags": event.tags or [],
                "metadata": started.metadata or {},
            },
        }
        payload = envelope_json(
            head, content.data, content.raw, self._max_event_bytes, self._redactor
        )
        usage = content.usage or _NO_USAGE
        response = content.response
        ending = content.ending and run is not None
        text = self._redactor.text
        model = content.model or started.model
        meta: dict[str, Any] = {
            "timestamp": ts_us,
            "run_id": run_id or "",
            "parent_run_id": parent_run_id or "",
            "custom_id": custom_id,
            "event_type": kind,
            "logger_metadata": self._metadata_json,
            "event_id": str(_new_event_id()),
            # The typed columns of free text are masked like the payload.
            "model": text(model) if type(model) is str else model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "latency_ms": (now_ns - started.start_ns) / 1e6 if ending else None,
            "error_type": content.error_type,
            "host": self._host,
            "pid": self._pid,
            "schema_version": wire.SCHEMA_VERSION,
            **(started.columns or self._run_columns(started)),
        }
        # Schema 2's columns other than the run's: a null one is left out of the meta (the
        # writer reads a missing key as null), which halves the meta's bytes.
        if ending:
            meta["start_time"] = started.start_ns // 1000
            if started.first_token_ns:
                ttft_ms = (started.first_token_ns - started.start_ns) / 1e6
                meta["time_to_first_token_ms"] = ttft_ms
        if usage is not _NO_USAGE:
            if usage.cache_read_input_tokens is not None:
                meta["cache_read_input_tokens"] = usage.cache_read_input_tokens
            if usage.cache_creation_input_tokens is not None:
                meta["cache_creation_input_tokens"] = usage.cache_creation_input_tokens
            if usage.reasoning_output_tokens is not None:
                meta["reasoning_output_tokens"] = usage.reasoning_output_tokens
        if custom_id and type(custom_id) is str:
            meta["custom_id"] = text(custom_id, remember=False)
        if response is not None:
            if response.model is not None:
                meta["response_model"] = text(response.model)
            if response.finish_reasons:
                meta["finish_reasons"] = list(map(text, response.finish_reasons))
            response_id = response.response_id
            if response_id is not None:
                masked = self._mask_ids
                meta["response_id"] = text(response_id, remember=False) if masked else response_id
        partition = self._partition(ts_us, kind)
        if usage is _NO_USAGE or counts_fit_int64(usage):
            try:
                return wire.encode(partition, meta, payload)
            except TypeError:  # orjson's JSONEncodeError: a value JSON cannot hold
                pass
        # The slow path, for awkward values only (see `repair`): the row is kept.
        columns = repair_columns(meta)
        return wire.encode(partition, meta, mark_repaired(payload, columns))

    def _run_columns(self, run: RunStart) -> dict[str, Any]:
        """The typed columns every event of `run` repeats, free text masked (ids and our own
        vocabulary are not free text), schema 2's nulls left out; worked out at the run's
        first event and kept on it."""
        text = self._redactor.text
        run_type, name, provider, model = run.run_type, run.name, run.provider, run.model
        name = text(name) if name is not None else None
        columns: dict[str, Any] = {
            "run_type": text(run_type) if run_type is not None else None,
            "name": name,
            "provider": text(provider) if provider is not None else None,
        }
        if run.trace_id is not None:
            columns["trace_id"] = run.trace_id
        if run.root_run_id is not None:
            columns["root_run_id"] = run.root_run_id
        if run.operation is not None:
            columns["operation"] = run.operation
        if model is not None:
            columns["request_model"] = text(model)
        if run.temperature is not None:
            columns["temperature"] = run.temperature
        if run.max_tokens is not None:
            columns["max_tokens"] = run.max_tokens
        if run_type == "tool":
            columns["tool_name"] = name
        run.columns = columns
        return columns

    def _partition(self, ts_us: int, event_type: str) -> str:
        keys = self._keys
        if not keys:
            return ""
        if keys == ("date",):
            return f"date={self._date_of(ts_us)}"
        if keys == ("event_type",):
            return f"event_type={event_type}"
        return f"date={self._date_of(ts_us)}/event_type={event_type}"

    def _date_of(self, ts_us: int) -> str:
        day = ts_us // _US_PER_DAY
        if day != self._day:
            self._date = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
            self._day = day
        return self._date
