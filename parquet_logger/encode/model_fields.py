"""A pydantic model's fields as `model_dump(serialize_as_any=True)` gives them, without the dump.

`model_dump` copies the whole tree (an `LLMResult` with one `AIMessage`: about 7 us). Most
models LangChain hands a callback (messages, generations, results, documents, agent actions)
serialize to exactly their stored field values: no serializer functions, no computed or
excluded fields, no `model_dump` of their own. For those, the instance `__dict__` (plus extra
fields) *is* the python-mode dump one level deep, and orjson walks it without a copy, calling
back for nested models, which get the same treatment (about 1 us for that `LLMResult`). Any
class whose schema says otherwise keeps `model_dump`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Keys of a pydantic-core schema under which a class serializes differently from its stored
# values: a serializer function (field, model or type level), an excluded field, a computed
# field. Finding any of them anywhere in the schema (nested definitions included) sends the
# class to model_dump.
_SERIALIZING_KEYS = frozenset(
    {"serialization", "serialization_exclude", "serialization_exclude_if", "computed_fields"}
)

_stored_values_dump: dict[type, bool] = {}


def stored_fields(obj: object) -> dict[str, Any] | None:
    """The dump of `obj` if it is a model of a class already known to dump as stored (the
    hot path of serialization: no isinstance walk, no call into pydantic), else None."""
    if _stored_values_dump.get(type(obj)):
        extra = obj.__pydantic_extra__  # type: ignore[attr-defined]
        fields: dict[str, Any] = obj.__dict__
        return {**fields, **extra} if extra else fields
    return None


def dump_model(model: BaseModel) -> Any:
    """The python-mode `model_dump(serialize_as_any=True)` of `model`, one level deep: nested
    models are left as they are, for the caller's encoder to convert in turn.

    Raises whatever `model_dump` raises, for a class that needs it.
    """
    cls = type(model)
    if cls not in _stored_values_dump:
        _stored_values_dump[cls] = _dumps_as_stored(cls)
    fields = stored_fields(model)
    if fields is not None:
        return fields
    # serialize_as_any: ChatGeneration.message is declared BaseMessage, and without it an
    # AIMessage loses usage_metadata and tool_calls. warnings=False: a logger must not print
    # a pydantic warning on every event.
    return model.model_dump(serialize_as_any=True, warnings=False)


def _dumps_as_stored(cls: type[BaseModel]) -> bool:
    """True when `cls`'s python-mode dump is its stored field values (see the module doc)."""
    if getattr(cls, "__pydantic_root_model__", False):
        return False  # a RootModel dumps its root value, not {"root": ...}
    if cls.model_dump is not BaseModel.model_dump:
        return False  # the class says how it dumps: ask it
    try:
        schema = cls.__pydantic_core_schema__
    except AttributeError:  # a class pydantic has not finished building
        return False
    return not _has_serializing_key(schema, depth=0)


def _has_serializing_key(node: object, depth: int) -> bool:
    if depth > 64:  # deeper than any real schema: do not trust it
        return True
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SERIALIZING_KEYS and value:
                return True
            if isinstance(value, dict | list) and _has_serializing_key(value, depth + 1):
                return True
    elif isinstance(node, list):
        return any(_has_serializing_key(item, depth + 1) for item in node)
    return False
