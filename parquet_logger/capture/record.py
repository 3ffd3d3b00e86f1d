"""Turn one callback into one ring record: the typed columns and the payload envelope.

The payload is `{"event_type", "timestamp", "execution": {run_id, parent_run_id, custom_id,
tags, metadata}, "data": {curated fields}, "raw": {every callback argument}}`, serialized by
`jsonsafe` (never raises, documented fallbacks) and stripped of secrets by `redaction`.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from parquet_logger.capture.events import EventType
from parquet_logger.capture.llm_facts import Usage
from parquet_logger.capture.runs import RunStart, RunTable
from parquet_logger.capture.settings import LoggerSettings
from parquet_logger.capture.tagging import custom_id_from_tags
from parquet_logger.encode import safe_json as jsonsafe
from parquet_logger.encode.redaction import redact_json, scrub
from parquet_logger.transport import wire
from parquet_logger.transport.statedir import host_name

try:  # run ids are UUIDv7 in LangChain; event ids follow suit (time-sortable, ~0.2 us)
    from uuid_utils import uuid7 as _new_event_id
except ImportError:  # pragma: no cover - uuid_utils ships with langchain-core >= 1
    from uuid import uuid4 as _new_event_id  # type: ignore[assignment]

_US_PER_DAY = 86_400_000_000
_NOT_GIVEN: Any = object()
_MAX_CACHED_SERIALIZED = 256


class RecordBuilder:
    """Builds ring bodies for one logger; costly decisions are made once, here."""

    def __init__(self, settings: LoggerSettings) -> None:
        self._keys = settings.partition_keys
        self._metadata_json = settings.logger_metadata_json
        self._max_event_bytes = settings.max_event_bytes
        self._host = host_name()
        self._pid = os.getpid()
        self._day = -1
        self._date = ""
        self.runs = RunTable(settings.max_tracked_runs)
        # id(serialized) -> (the object, its redacted JSON). LangChain hands every call of a
        # model the same cached `serialized` dict (a cached_property of the model), which
        # often holds a secret marker: redacting it once per model, not per event, keeps the
        # hot path off redaction's slow path. The entry keeps the object alive, so its id
        # cannot be reused by another object while cached.
        self._serialized_json: dict[int, tuple[object, bytes]] = {}

    def after_fork(self) -> None:
        self._pid = os.getpid()

    def _date_of(self, ts_us: int) -> str:
        day = ts_us // _US_PER_DAY
        if day != self._day:
            self._date = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
            self._day = day
        return self._date

    def _partition(self, ts_us: int, event_type: str) -> str:
        keys = self._keys
        if not keys:
            return ""
        if keys == ("date",):
            return f"date={self._date_of(ts_us)}"
        if keys == ("event_type",):
            return f"event_type={event_type}"
        return f"date={self._date_of(ts_us)}/event_type={event_type}"

    def fragment(self, obj: Any) -> orjson.Fragment:
        """`obj` serialized once, to appear in both `data` and `raw` without a second dump."""
        return orjson.Fragment(_safe_dumps(obj, self._max_event_bytes // 2)[0])

    def _serialized_of(self, serialized: Any) -> bytes:
        if serialized is None:
            return b"null"
        hit = self._serialized_json.get(id(serialized))
        if hit is not None and hit[0] is serialized:
            return hit[1]
        encoded = _safe_dumps(serialized, self._max_event_bytes // 4)[0]
        if len(self._serialized_json) >= _MAX_CACHED_SERIALIZED:
            self._serialized_json.clear()
        self._serialized_json[id(serialized)] = (serialized, encoded)
        return encoded

    def _payload(self, head: dict[str, Any], raw: dict[str, Any], serialized: Any) -> bytes:
        """The envelope `{...head, "raw": {"serialized"?, ...raw}}` as JSON.

        Usually one scrub walk and one orjson call (callers share objects between `data`
        and `raw` as fragments, dumped once). An envelope over `max_event_bytes`, or one
        orjson refuses, takes `_payload_in_parts`, which bounds each part on its own.
        Secrets go before serialization (scrub walks keys, never the text); `execution` is
        ids, tags (strings) and the start event's metadata, a fragment scrubbed when the run
        started.
        """
        if serialized is not _NOT_GIVEN:
            raw = {"serialized": orjson.Fragment(self._serialized_of(serialized)), **raw}
        try:
            envelope = {**head, "data": scrub(head["data"]), "raw": scrub(raw)}
            payload = orjson.dumps(envelope, default=jsonsafe.default, option=jsonsafe.OPTIONS)
        except Exception:  # too deep for scrub, or an object orjson and its hook refuse
            return self._payload_in_parts(head, raw)
        if len(payload) <= self._max_event_bytes:
            return payload
        return self._payload_in_parts(head, raw)

    def _payload_in_parts(self, head: dict[str, Any], raw: dict[str, Any]) -> bytes:
        """`head` and `raw` dumped apart, each within its share of `max_event_bytes` (long
        strings cut, with a `truncated` marker), then joined as `{...head, "raw"}`."""
        limit = self._max_event_bytes
        try:
            head["data"] = scrub(head["data"])
            scrubbed = True
        except RecursionError:  # too deep (or cyclic) to walk: redact the text instead
            scrubbed = False
        head_json, head_cut = jsonsafe.dumps(head, limit // 2)
        if not scrubbed:
            head_json = redact_json(head_json)
        room = max(4096, limit - len(head_json))
        raw_json, raw_cut = _safe_dumps(raw, room)
        payload = head_json[:-1] + b',"raw":' + raw_json + b"}"
        if head_cut is None and raw_cut is None:
            return payload
        original = (head_cut or len(head_json)) + (raw_cut or len(raw_json))
        return _mark_truncated(payload, original)

    def start(
        self,
        run_id: UUID,
        metadata: Any,
        run_type: str | None,
        name: str | None,
        model: str | None = None,
        provider: str | None = None,
    ) -> RunStart:
        """Remember a run's start for its end event."""
        # Serialized (and scrubbed) once: the start and the end event both carry it.
        shared = None if metadata is None else self.fragment(metadata)
        start = RunStart(time.time_ns(), shared, run_type, name, model, provider)
        self.runs.remember(run_id, start)
        return start

    def build(
        self,
        event_type: EventType | str,
        run_id: UUID | None,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        data: dict[str, Any],
        raw: dict[str, Any],
        *,
        run: RunStart | None = None,
        ending: bool = False,
        usage: Usage | None = None,
        model: str | None = None,
        error_type: str | None = None,
        serialized: Any = _NOT_GIVEN,
    ) -> bytes:
        """The ring body of one event. `run` is the run's start (for metadata, name, latency);
        `serialized`, when given, becomes the first key of `raw`."""
        now_ns = time.time_ns()
        ts_us = now_ns // 1000
        kind = str(event_type)  # EventType is a StrEnum: its str is the value
        custom_id = custom_id_from_tags(tags)
        latency_ms = (now_ns - run.start_ns) / 1e6 if (ending and run is not None) else None
        head = {
            "event_type": kind,
            "timestamp": datetime.fromtimestamp(now_ns / 1e9, UTC),
            "execution": {
                "run_id": run_id,
                "parent_run_id": parent_run_id,
                "custom_id": custom_id,
                "tags": tags or [],
                "metadata": run.metadata if run is not None else None,
            },
            "data": data,
        }
        payload = self._payload(head, raw, serialized)
        u = usage or Usage()
        meta = {
            "timestamp": ts_us,
            "run_id": run_id or "",
            "parent_run_id": parent_run_id or "",
            "custom_id": custom_id,
            "event_type": kind,
            "logger_metadata": self._metadata_json,
            "event_id": str(_new_event_id()),
            "run_type": run.run_type if run is not None else None,
            "name": run.name if run is not None else None,
            "model": model or (run.model if run is not None else None),
            "provider": run.provider if run is not None else None,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "total_tokens": u.total_tokens,
            "latency_ms": latency_ms,
            "error_type": error_type,
            "host": self._host,
            "pid": self._pid,
            "schema_version": wire.SCHEMA_VERSION,
        }
        partition = self._partition(ts_us, kind)
        try:
            return wire.encode(partition, meta, payload)
        except TypeError:
            # A typed column got a value orjson cannot write (an odd name, say): keep the event.
            meta = {
                k: v if isinstance(v, int | float | str | UUID) or v is None else str(v)
                for k, v in meta.items()
            }
            return wire.encode(partition, meta, payload)


def _safe_dumps(obj: Any, max_bytes: int) -> tuple[bytes, int | None]:
    """Scrub secrets, then serialize. A tree too deep (or cyclic) for scrub's recursion is
    serialized as is and redacted as text instead."""
    try:
        tree = scrub(obj)
    except RecursionError:
        data, cut = jsonsafe.dumps(obj, max_bytes)
        return redact_json(data), cut
    return jsonsafe.dumps(tree, max_bytes)


def _mark_truncated(payload: bytes, original_size: int) -> bytes:
    """Add `"truncated": {"original_bytes": N}` to a truncated payload (a JSON object)."""
    marker = b'"truncated":{"original_bytes":%d},' % original_size
    return b"{" + marker + payload[1:] if payload.startswith(b"{") else payload
