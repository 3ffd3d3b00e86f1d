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
# Free-text columns whose values repeat (masked once per distinct value, then cached).
_REPEATED_TEXT_COLUMNS = (
    "run_type",
    "name",
    "model",
    "provider",
    "request_model",
    "response_model",
    "tool_name",
)


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
        the partition date and the latency all come from it.
        """
        now_ns = time.time_ns()
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
        meta: dict[str, Any] = {
            "timestamp": ts_us,
            "run_id": run_id or "",
            "parent_run_id": parent_run_id or "",
            "custom_id": custom_id,
            "event_type": kind,
            "logger_metadata": self._metadata_json,
            "event_id": str(_new_event_id()),
            "run_type": started.run_type,
            "name": started.name,
            "model": content.model or started.model,
            "provider": started.provider,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "latency_ms": (now_ns - started.start_ns) / 1e6 if ending else None,
            "error_type": content.error_type,
            "host": self._host,
            "pid": self._pid,
            "schema_version": wire.SCHEMA_VERSION,
            "trace_id": started.trace_id,
            "root_run_id": started.root_run_id,
            "operation": started.operation,
            "request_model": started.model,
            "response_model": None if response is None else response.model,
            "cache_read_input_tokens": usage.cache_read_input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "reasoning_output_tokens": usage.reasoning_output_tokens,
            "finish_reasons": None,
            "response_id": None,
            "temperature": started.temperature,
            "max_tokens": started.max_tokens,
            "tool_name": started.name if started.run_type == "tool" else None,
            "time_to_first_token_ms": None,
            "start_time": started.start_ns // 1000 if ending else None,
        }
        if ending and started.first_token_ns:
            meta["time_to_first_token_ms"] = (started.first_token_ns - started.start_ns) / 1e6
        # The typed columns of free text are masked like the payload.
        text = self._redactor.text
        for column in _REPEATED_TEXT_COLUMNS:
            value = meta[column]
            if type(value) is str:
                meta[column] = text(value)
        if custom_id and type(custom_id) is str:
            meta["custom_id"] = text(custom_id, remember=False)
        if response is not None:
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
