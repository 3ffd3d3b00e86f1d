"""What each callback's row says: the curated `data`, the callback's arguments as `raw`, and
the facts for the typed columns; one method per family of callbacks (model starts, LLM ends,
errors, chain/tool/retriever starts and ends, point events).

The layout is the one of the package users come from (their notebooks parse it): `raw` holds
every argument of the callback at its top level, the positional ones under their parameter
names (`serialized`, `messages`, `response`, ...) and the keyword ones as passed (`run_id`,
`tags`, `invocation_params`, anything unknown); `data` holds the curated fields that package
documents (`model`, `llm_type`, `usage`, ...), plus ours (`provider`, `name`). An object that
appears in both `data` and `raw` is encoded once, as a JSON fragment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from parquet_logger.capture.event import CallbackEvent, Content
from parquet_logger.capture.events import EventType
from parquet_logger.capture.llm_facts import (
    error_type_of,
    llm_end_facts,
    name_of,
    start_model_facts,
)
from parquet_logger.capture.runs import RunStart, RunTable
from parquet_logger.capture.settings import LoggerSettings
from parquet_logger.encode.convert import describe_exception
from parquet_logger.encode.safe_json import safe_json

_RUN_TYPES: dict[EventType | str, str] = {
    EventType.LLM_START: "llm",
    EventType.CHAT_MODEL_START: "chat_model",
    EventType.CHAIN_START: "chain",
    EventType.TOOL_START: "tool",
    EventType.RETRIEVER_START: "retriever",
}
_MAX_CACHED_SERIALIZED = 256
log = logging.getLogger("parquet_logger")
_Family = Callable[[CallbackEvent], Content | None]


class ContentBuilder:
    """Turns callbacks into row content for one logger, and remembers runs between their
    start and end events."""

    def __init__(self, settings: LoggerSettings) -> None:
        self.runs = RunTable(settings.max_tracked_runs)
        self._enabled = settings.enabled
        self._log_dir = settings.log_dir
        # The seed's `event_types=["llm_start", ...]` records no start of a chat model (those
        # start with chat_model_start): said once per logger, when the first one starts.
        self._warn_chat_start = (
            EventType.LLM_START in settings.enabled
            and EventType.CHAT_MODEL_START not in settings.enabled
        )
        self._fragment_bytes = settings.max_event_bytes // 2
        self._serialized_bytes = settings.max_event_bytes // 4
        self._redactor = settings.redactor
        # id(serialized) -> (the object, its redacted JSON). LangChain hands every call of a
        # model the same cached `serialized` dict (a cached_property of the model), which
        # often holds a secret marker: redacting it once per model, not per event, keeps the
        # hot path off redaction's slow path. The entry keeps the object alive, so its id
        # cannot be reused by another object while cached.
        self._serialized_json: dict[int, tuple[object, orjson.Fragment]] = {}
        e = EventType
        families: tuple[tuple[_Family, tuple[EventType, ...]], ...] = (
            (self._model_start, (e.LLM_START, e.CHAT_MODEL_START)),
            (self._token, (e.LLM_NEW_TOKEN,)),
            (self._llm_end, (e.LLM_END,)),
            (self._run_start, (e.CHAIN_START, e.TOOL_START, e.RETRIEVER_START)),
            (self._run_end, (e.CHAIN_END, e.TOOL_END, e.RETRIEVER_END)),
            (self._error, (e.LLM_ERROR, e.CHAIN_ERROR, e.TOOL_ERROR, e.RETRIEVER_ERROR)),
            (self._point, (e.AGENT_ACTION, e.AGENT_FINISH, e.RETRY, e.TEXT, e.CUSTOM_EVENT)),
        )
        self._family: dict[EventType | str, _Family] = {
            kind: family for family, kinds in families for kind in kinds
        }

    def of(self, event: CallbackEvent) -> Content | None:
        """The content of a callback's row, or None when its event type is not recorded (a
        start event is still remembered, for its end event's latency and metadata)."""
        return self._family[event.event_type](event)

    def own(self, event: CallbackEvent) -> Content:
        """The content of an event the user logs (`log_event`): its data, no callback."""
        # No callback arguments to keep: `raw` stays empty rather than repeat `data`.
        # Its keys are the user's, not the schema's: scrubbed here, top level included.
        return Content(self._redactor.scrub(event.inputs), {}, self.runs.get(event.run_id))

    def _fragment(self, obj: Any) -> orjson.Fragment:
        """`obj` encoded once, to appear in both `data` and `raw` without a second dump."""
        return orjson.Fragment(safe_json(obj, self._fragment_bytes, self._redactor)[0])

    def _fragments(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Each of a callback's arguments encoded once (`_fragment`), under its name."""
        # zip/map rather than a comprehension: no extra frame on the hot path.
        return dict(zip(inputs, map(self._fragment, inputs.values()), strict=True))

    # ------------------------------------------------------------------ starts
    def _model_start(self, event: CallbackEvent) -> Content | None:
        kwargs = event.kwargs
        params = kwargs.get("invocation_params") or {}
        model, provider, llm_type = start_model_facts(params, event.metadata, event.serialized)
        name = name_of(event.serialized, kwargs)
        run = self._remember(event, _RUN_TYPES[event.event_type], name, model, provider, params)
        if event.event_type not in self._enabled:
            if self._warn_chat_start and event.event_type == EventType.CHAT_MODEL_START:
                self._chat_start_not_recorded()
            return None
        inputs = self._fragments(event.inputs)
        serialized = self._serialized(event.serialized)
        # Without invocation_params (a hand-made call), the package users come from gave the
        # model's constructor arguments, serialized["kwargs"].
        shared_params = self._fragment(params or _constructor_kwargs(event.serialized))
        data = {
            **inputs,
            "llm_type": llm_type,
            "serialized": serialized,
            "model": model,
            "provider": provider,
            "name": name,
            "invocation_params": shared_params,
        }
        raw_kwargs = dict(kwargs)
        if "invocation_params" in raw_kwargs:
            raw_kwargs["invocation_params"] = shared_params
        raw = {"serialized": serialized, **inputs, **_ids(event, run), **raw_kwargs}
        return Content(data, raw, run, at_ns=run.start_ns)

    def _chat_start_not_recorded(self) -> None:
        self._warn_chat_start = False  # two threads at once may both warn: harmless
        log.warning(
            "parquet-logger for %s: a chat model started, but event_types has llm_start "
            'without "chat_model_start", so chat model starts are not recorded (chat models '
            'start with chat_model_start, not llm_start); add "chat_model_start" to event_types',
            self._log_dir,
        )

    def _run_start(self, event: CallbackEvent) -> Content | None:
        kind, kwargs = event.event_type, event.kwargs
        name = name_of(event.serialized, kwargs)
        run_type = _RUN_TYPES[kind]
        if kind == EventType.CHAIN_START:  # a prompt, a parser, a lambda... say which
            run_type = kwargs.get("run_type") or run_type
        run = self._remember(event, run_type, name)
        if kind not in self._enabled:
            return None
        arguments = event.inputs
        input_str = arguments.get("input_str")
        if kind == EventType.TOOL_START and type(input_str) is str:
            # LangChain's `str(inputs)`: the structured `inputs` is scrubbed, this text too.
            arguments = {**arguments, "input_str": self._redactor.repr_text(input_str)}
        inputs = self._fragments(arguments)
        serialized = self._serialized(event.serialized)
        # `model` is the run's name where the package users come from put it.
        data = {**inputs, "serialized": serialized, "model": name or "", "name": name}
        if kind == EventType.TOOL_START:
            description = _description(event.serialized)
            if description is not None:
                data["description"] = description
        raw = {"serialized": serialized, **inputs, **_ids(event, run), **kwargs}
        return Content(data, raw, run, at_ns=run.start_ns)

    def _remember(
        self,
        event: CallbackEvent,
        run_type: str,
        name: str | None,
        model: str | None = None,
        provider: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> RunStart:
        """Remember a run's start for its end event."""
        metadata = event.metadata
        # Encoded (and redacted) once: the start and the end event both carry it.
        shared = None if metadata is None else self._fragment(metadata)
        return self.runs.start(
            event.run_id,
            event.parent_run_id,
            shared,
            run_type,
            name,
            model,
            provider,
            params,
            metadata,
        )

    def _serialized(self, serialized: dict[str, Any] | None) -> orjson.Fragment:
        """`serialized` as a JSON fragment, encoded once per object (see __init__)."""
        hit = self._serialized_json.get(id(serialized))
        if hit is not None and hit[0] is serialized:
            return hit[1]
        encoded = orjson.Fragment(safe_json(serialized, self._serialized_bytes, self._redactor)[0])
        if len(self._serialized_json) >= _MAX_CACHED_SERIALIZED:
            self._serialized_json.clear()
        self._serialized_json[id(serialized)] = (serialized, encoded)
        return encoded

    # ------------------------------------------------------------------ ends
    def _llm_end(self, event: CallbackEvent) -> Content | None:
        run = self.runs.pop(event.run_id)
        if event.event_type not in self._enabled:
            return None
        response = event.inputs["response"]
        facts = llm_end_facts(response)
        encoded = self._fragment(response)
        data: dict[str, Any] = {"response": encoded, **_result_metadata(response)}
        if "model" not in data and facts.model is not None:
            data["model"] = facts.model
        raw = {"response": encoded, **_ids(event), **event.kwargs}
        return Content(data, raw, run, True, facts.usage, facts.model, response=facts)

    def _run_end(self, event: CallbackEvent) -> Content | None:
        run = self.runs.pop(event.run_id)
        if event.event_type not in self._enabled:
            return None
        data = self._fragments(event.inputs)
        return Content(data, {**data, **_ids(event), **event.kwargs}, run, ending=True)

    def _error(self, event: CallbackEvent) -> Content | None:
        run = self.runs.pop(event.run_id)
        if event.event_type not in self._enabled:
            return None
        error = event.inputs["error"]
        # Formatting a traceback is the costly part: do it once for data and raw.
        described = self._fragment(describe_exception(error))
        raw = {"error": described, **_ids(event), **event.kwargs}
        return Content({"error": described}, raw, run, ending=True, error_type=error_type_of(error))

    # ------------------------------------------------------------------ within a run
    def _token(self, event: CallbackEvent) -> Content | None:
        run, first_ns = self.runs.token(event.run_id)  # time to first token, recorded or not
        if event.event_type not in self._enabled:
            return None
        raw = {**event.inputs, **_ids(event), **event.kwargs}
        # The first token's row is stamped with the time its run's time_to_first_token_ms
        # measures; the others read the clock.
        return Content({"token": event.inputs["token"]}, raw, run, at_ns=first_ns)

    def _point(self, event: CallbackEvent) -> Content | None:
        """Agent actions and finishes, retries, text and custom events."""
        if event.event_type not in self._enabled:
            return None
        run = self.runs.get(event.run_id)
        kind = event.event_type
        curate = _POINT_DATA.get(kind)
        data = event.inputs if curate is None else curate(event.inputs)
        # An agent's action or finish object itself goes to raw (what users read of it is
        # in data); a retry keeps only what data reads of tenacity's state.
        arguments = event.inputs if kind in _OBJECT_IN_RAW else data
        raw = {**arguments, **_ids(event), **event.kwargs}
        if event.metadata is not None:
            raw["metadata"] = event.metadata
        return Content(data, raw, run)


def _ids(event: CallbackEvent, run: RunStart | None = None) -> dict[str, Any]:
    """The keyword arguments every callback has, for `raw` (the start's metadata too)."""
    ids = {"run_id": event.run_id, "parent_run_id": event.parent_run_id, "tags": event.tags}
    if run is not None and event.metadata is not None:
        ids["metadata"] = run.metadata
    return ids


def _constructor_kwargs(serialized: dict[str, Any] | None) -> Any:
    return serialized.get("kwargs") if isinstance(serialized, dict) else None


def _description(serialized: dict[str, Any] | None) -> Any:
    return serialized.get("description") if isinstance(serialized, dict) else None


def _result_metadata(response: Any) -> dict[str, Any]:
    """`usage` and `model` of `llm_output` as given, and the first generation's message's
    `usage_metadata` and `response_metadata` when set, under the names of the package users
    come from; an object that breaks on inspection gives what could be read."""
    found: dict[str, Any] = {}
    try:
        llm_output = getattr(response, "llm_output", None)
        if llm_output and isinstance(llm_output, dict):
            found["usage"] = llm_output.get("token_usage", {})
            found["model"] = llm_output.get("model_name", "")
        generations = getattr(response, "generations", None)
        message = getattr(generations[0][0], "message", None) if generations else None
        for key in ("usage_metadata", "response_metadata"):
            value = getattr(message, key, None)
            if value:
                found[key] = value
    except Exception:  # a foreign or mocked result: the rest of the event is still logged
        pass
    return found


def _agent_action(inputs: dict[str, Any]) -> dict[str, Any]:
    action = inputs["action"]
    return {
        "action": {
            "tool": getattr(action, "tool", None),
            "tool_input": getattr(action, "tool_input", None),
            "log": getattr(action, "log", None),
        }
    }


def _agent_finish(inputs: dict[str, Any]) -> dict[str, Any]:
    finish = inputs["finish"]
    return {
        "finish": {
            "return_values": getattr(finish, "return_values", None),
            "log": getattr(finish, "log", None),
        }
    }


def _retry(inputs: dict[str, Any]) -> dict[str, Any]:
    """The attempt, the wait so far and the error of a tenacity RetryCallState (these, not
    the state object, are also what `raw` keeps)."""
    state = inputs["retry_state"]
    outcome = getattr(state, "outcome", None)
    error = outcome.exception() if outcome is not None and outcome.failed else None
    return {
        "attempt_number": getattr(state, "attempt_number", None),
        "idle_for_s": getattr(state, "idle_for", None),
        "error": describe_exception(error) if error is not None else None,
    }


_OBJECT_IN_RAW = frozenset({EventType.AGENT_ACTION, EventType.AGENT_FINISH})
# Point events whose `data` is read out of their arguments; the others' is the arguments.
_POINT_DATA: dict[EventType | str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    EventType.AGENT_ACTION: _agent_action,
    EventType.AGENT_FINISH: _agent_finish,
    EventType.RETRY: _retry,
}
