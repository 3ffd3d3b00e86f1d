"""The typed facts read out of LangChain's callback arguments: names, models, usage, errors.

Each reader tolerates anything (None, foreign objects) and returns None where a fact is absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from parquet_logger.capture.usage_shapes import (
    PROVIDER_USAGE_KEYS,
    add_provider_usage,
    add_usage_metadata,
)

# dict first: isinstance tries it before the (slower) abstract Mapping check.
_MAPPING = (dict, Mapping)


class Usage:
    """Token counts of one LLM result, summed over every generation. The input count includes
    cached input (as LangChain's usage_metadata and OpenTelemetry count it), the output count
    reasoning output."""

    __slots__ = (
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
        "total_tokens",
    )

    def __init__(self) -> None:
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.total_tokens: int | None = None
        self.cache_read_input_tokens: int | None = None
        self.cache_creation_input_tokens: int | None = None
        self.reasoning_output_tokens: int | None = None

    def add(self, inp: Any, out: Any, total: Any) -> None:
        """Add one generation's counts; a count that is not an int is left out."""
        self.input_tokens = _plus(self.input_tokens, inp)
        self.output_tokens = _plus(self.output_tokens, out)
        self.total_tokens = _plus(self.total_tokens, total)

    def add_details(self, cache_read: Any, cache_creation: Any, reasoning: Any) -> None:
        """Add one generation's cached-input and reasoning counts (each part of the input
        and output counts above)."""
        self.cache_read_input_tokens = _plus(self.cache_read_input_tokens, cache_read)
        self.cache_creation_input_tokens = _plus(self.cache_creation_input_tokens, cache_creation)
        self.reasoning_output_tokens = _plus(self.reasoning_output_tokens, reasoning)

    def counts(self) -> tuple[int | None, ...]:
        """Every count, for range checks."""
        return (
            self.input_tokens,
            self.output_tokens,
            self.total_tokens,
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
            self.reasoning_output_tokens,
        )

    def as_dict(self) -> dict[str, int | None]:
        """The payload's `usage` (input, output and total: the details are typed columns)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }


def _plus(current: int | None, value: Any) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return current
    return value if current is None else current + value


def name_of(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str | None:
    """`name` kwarg, else serialized["name"], else the last part of serialized["id"]."""
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, _MAPPING):  # None for the root of every LCEL chain
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ident = serialized.get("id")
        if isinstance(ident, list | tuple) and ident and isinstance(ident[-1], str):
            return ident[-1]
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def start_model_facts(
    params: Mapping[str, Any],
    metadata: Mapping[str, Any] | None,
    serialized: Mapping[str, Any] | None = None,
) -> tuple[str | None, str | None, str | None]:
    """(model, provider, llm_type) of a model start. llm_type is invocation_params["_type"],
    else serialized["_type"] (where the package users come from read it)."""
    meta = metadata if isinstance(metadata, _MAPPING) else {}
    model = (
        _text(params.get("model"))
        or _text(params.get("model_name"))
        or _text(params.get("model_id"))
        or _text(meta.get("ls_model_name"))
        or _constructor_model(serialized)
    )
    llm_type = _text(params.get("_type"))
    if llm_type is None and isinstance(serialized, _MAPPING):
        llm_type = _text(serialized.get("_type"))
    provider = _text(meta.get("ls_provider")) or llm_type
    return model, provider, llm_type


def request_params(
    params: Mapping[str, Any], metadata: Mapping[str, Any] | None
) -> tuple[float | None, int | None]:
    """(temperature, max_tokens) a model was called with: its invocation params (OpenAI's
    `max_completion_tokens`, Gemini's `max_output_tokens` included), else LangChain's
    `ls_temperature` / `ls_max_tokens` metadata."""
    temperature: Any = params.get("temperature")
    max_tokens: Any = (
        params.get("max_tokens")
        or params.get("max_completion_tokens")
        or params.get("max_output_tokens")
    )
    if (temperature is None or max_tokens is None) and isinstance(metadata, _MAPPING):
        temperature = metadata.get("ls_temperature") if temperature is None else temperature
        max_tokens = metadata.get("ls_max_tokens") if max_tokens is None else max_tokens
    number = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    if not number or not -1e300 < temperature < 1e300:  # NaN: not kept
        temperature = None
    if (
        not isinstance(max_tokens, int)
        or isinstance(max_tokens, bool)
        or not 0 <= max_tokens < 2**63
    ):
        max_tokens = None
    return (None if temperature is None else float(temperature)), max_tokens


def _constructor_model(serialized: Mapping[str, Any] | None) -> str | None:
    """The model named in serialized["kwargs"], where the package users come from read it."""
    if not isinstance(serialized, _MAPPING):
        return None
    kwargs = serialized.get("kwargs")
    if not isinstance(kwargs, _MAPPING):
        return None
    return _text(kwargs.get("model_name")) or _text(kwargs.get("model"))


@dataclass
class EndFacts:
    """What an LLMResult says for the typed columns: usage summed over every generation, the
    model, the response's id and each generation's finish reason as the provider wrote it."""

    finish_reasons: list[str] = field(default_factory=list)
    model: str | None = None
    response_id: str | None = None
    usage: Usage = field(default_factory=Usage)


def llm_end_facts(response: Any) -> EndFacts:
    """Read an LLMResult; an object that breaks on inspection yields empty facts (the event
    is still logged, with the object in `raw` through `safe_json`'s fallbacks)."""
    try:
        return _read_llm_result(response)
    except Exception:
        return EndFacts()


def _read_llm_result(response: Any) -> EndFacts:
    facts = EndFacts()
    found_usage = False
    provider_usage: Any = None  # the first generation's, if no usage_metadata anywhere
    for generations in getattr(response, "generations", None) or []:
        for gen in generations or []:
            info = getattr(gen, "generation_info", None) or {}
            message = getattr(gen, "message", None)
            response_metadata = getattr(message, "response_metadata", None) or {}
            reason = _reason(response_metadata) or _reason(info)
            if reason is not None:
                facts.finish_reasons.append(reason)
            if facts.model is None:
                facts.model = _model(response_metadata)
            if facts.response_id is None:
                facts.response_id = _response_id(response_metadata)
            usage = getattr(message, "usage_metadata", None)
            if isinstance(usage, _MAPPING):
                found_usage = True
                add_usage_metadata(facts.usage, usage)
            elif provider_usage is None and not found_usage:
                provider_usage = _usage_object(response_metadata) or _usage_object(info)
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, _MAPPING):
        if facts.model is None:
            facts.model = _model(llm_output)
        if facts.response_id is None:
            facts.response_id = _response_id(llm_output)
        if not facts.finish_reasons:
            reason = _reason(llm_output)
            if reason is not None:
                facts.finish_reasons.append(reason)
        if not found_usage and provider_usage is None:
            provider_usage = _usage_object(llm_output)
    if not found_usage and provider_usage is not None:
        add_provider_usage(facts.usage, provider_usage)
    return facts


def _reason(fields: Mapping[str, Any]) -> str | None:
    """A generation's finish reason: OpenAI and Gemini `finish_reason`, Anthropic
    `stop_reason`, Bedrock Converse `stopReason`."""
    return _text(
        fields.get("finish_reason") or fields.get("stop_reason") or fields.get("stopReason")
    )


def _model(fields: Mapping[str, Any]) -> str | None:
    return _text(fields.get("model_name") or fields.get("model") or fields.get("model_id"))


def _response_id(fields: Mapping[str, Any]) -> str | None:
    """OpenAI's `chatcmpl-…`/`resp_…`, Anthropic's `msg_…`, Gemini's `response_id`, else
    the request id Bedrock answers with (its only id)."""
    found = _text(fields.get("id")) or _text(fields.get("response_id"))
    if found is None:
        bedrock = fields.get("ResponseMetadata")
        if isinstance(bedrock, _MAPPING):
            found = _text(bedrock.get("RequestId"))
    return found


def _usage_object(fields: Mapping[str, Any]) -> Any:
    for key in PROVIDER_USAGE_KEYS:
        value = fields.get(key)
        if value:
            return value
    return None


def error_type_of(error: BaseException) -> str:
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
