"""The typed facts read out of LangChain's callback arguments: names, models, usage, errors.

Each reader tolerates anything (None, foreign objects) and returns None where a fact is absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# dict first: isinstance tries it before the (slower) abstract Mapping check.
_MAPPING = (dict, Mapping)


class Usage:
    """Token counts of one LLM result, summed over every generation."""

    __slots__ = ("input_tokens", "output_tokens", "total_tokens")

    def __init__(self) -> None:
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.total_tokens: int | None = None

    def add(self, inp: Any, out: Any, total: Any) -> None:
        """Add one generation's counts; a count that is not an int is left out."""
        self.input_tokens = _plus(self.input_tokens, inp)
        self.output_tokens = _plus(self.output_tokens, out)
        self.total_tokens = _plus(self.total_tokens, total)

    def as_dict(self) -> dict[str, int | None]:
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
    """What an LLMResult says: output texts, usage summed over every generation, model."""

    text: str | None = None
    texts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    usage: Usage = field(default_factory=Usage)


def llm_end_facts(response: Any) -> EndFacts:
    """Read an LLMResult; an object that breaks on inspection yields empty facts (the event
    is still logged, with the object in `raw` through jsonsafe's fallbacks)."""
    try:
        return _read_llm_result(response)
    except Exception:
        return EndFacts()


def _read_llm_result(response: Any) -> EndFacts:
    facts = EndFacts()
    found_usage = False
    for generations in getattr(response, "generations", None) or []:
        for gen in generations or []:
            text = getattr(gen, "text", None)
            if isinstance(text, str):
                facts.texts.append(text)
            info = getattr(gen, "generation_info", None) or {}
            message = getattr(gen, "message", None)
            response_metadata = getattr(message, "response_metadata", None) or {}
            if facts.finish_reason is None:
                facts.finish_reason = _text(
                    response_metadata.get("finish_reason") or info.get("finish_reason")
                )
            if facts.model is None:
                facts.model = _text(
                    response_metadata.get("model_name") or response_metadata.get("model")
                )
            usage = getattr(message, "usage_metadata", None)
            if isinstance(usage, _MAPPING):
                found_usage = True
                facts.usage.add(
                    usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens")
                )
    facts.text = facts.texts[0] if facts.texts else None
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, _MAPPING):
        if facts.model is None:
            facts.model = _text(llm_output.get("model_name") or llm_output.get("model"))
        token_usage = llm_output.get("token_usage") or llm_output.get("usage")
        if not found_usage and isinstance(token_usage, _MAPPING):
            facts.usage.add(
                token_usage.get("prompt_tokens", token_usage.get("input_tokens")),
                token_usage.get("completion_tokens", token_usage.get("output_tokens")),
                token_usage.get("total_tokens"),
            )
    return facts


def error_type_of(error: BaseException) -> str:
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
