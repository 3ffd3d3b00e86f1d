"""What each object orjson cannot encode natively becomes in JSON; never raises.

`default` is orjson's hook on the fast path (one `orjson.dumps` call); `slow_json` walks the
object in Python only when orjson refuses it. Both redact what they convert (the logger's
`Redactor.scrub`, bound by `make_default`):

| input                                   | JSON written                                          |
|-----------------------------------------|-------------------------------------------------------|
| pydantic v2 model                       | `model_dump(serialize_as_any=True)` (model_fields)    |
| ... whose `model_dump()` raises         | `{"$type": "mod.Class", "$repr": "..."}`              |
| exception                               | `{"type", "message", "traceback", "repr"}`            |
| bytes, bytearray, memoryview            | `{"$bytes_b64": "..."}`; over 48 KiB only the first   |
|                                         | 48 KiB, plus `"$bytes_len": <full length>`            |
| set, frozenset                          | list                                                  |
| secret (has `get_secret_value`)         | `"***"` (never the secret)                            |
| other object with `model_dump()`        | what `model_dump(mode="json")` (or `model_dump()`)    |
|                                         | returns, if it is a dict or a list                    |
| object with `to_dict()` or `dict()`     | what that method returns, if it is a dict             |
| other mapping                           | dict                                                  |
| other object with `__dict__`            | `{"$type": "mod.Class", **vars(obj)}`                 |
| anything else, types, functions         | `{"$type": "mod.Class", "$repr": <first 1000 chars>}` |
| ... whose `repr()` raises               | `{"$type": "mod.Class"}`                              |
| NaN, +inf, -inf                         | `null` (orjson's choice, kept)                        |
| lone surrogate in a string or key       | backslash escape `\\udc80` (valid pairs are joined)   |
| container already on the current path   | `"$cycle"`                                            |
| nesting deeper than 200 (slow path)     | `"$max_depth"`                                        |
| `orjson.Fragment` (slow path)           | its JSON, parsed and written again                    |
| int outside [-2**63, 2**64)             | decimal string                                        |
| non-str dict key                        | string (orjson's form; `str()` for unusual types)     |
| nothing above worked                    | `{"$unserializable": "<error text>"}`                 |
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import enum
import traceback
import uuid
from collections.abc import Callable, Mapping
from types import ModuleType

import orjson
from pydantic import BaseModel

from parquet_logger.encode.model_fields import dump_model, stored_fields
from parquet_logger.encode.redaction import DEFAULT, REDACTED

_MAX_REPR_CHARS = 1000
_MAX_BYTES_RAW = 48 * 1024  # base64 of this is 64 KiB: enough to recognise the data
_MAX_DEPTH = 200
_INT_MIN, _INT_LIMIT = -(2**63), 2**64  # orjson encodes exactly this range


def describe_exception(exc: BaseException) -> dict[str, object]:
    """Describe an exception as a JSON-able dict; never raises.

    Args:
        exc: the exception, raised or not.

    Returns:
        `{"type": qualified class name, "message": str(exc), "traceback": the formatted
        traceback (with chained causes) or None when `exc` was never raised, "repr": repr(exc)}`.
    """
    formatted: str | None = None
    if exc.__traceback__ is not None:
        try:
            formatted = "".join(traceback.format_exception(exc))
        except Exception:
            formatted = None
    return {
        "type": _type_name(exc),
        "message": _safe_str(exc),
        "traceback": formatted,
        "repr": _safe_repr(exc),
    }


def make_default(scrub: Callable[[object], object]) -> Callable[[object], object]:
    """orjson's `default` hook that converts with the rules above, then applies `scrub`."""

    def default(obj: object) -> object:
        """Return something orjson can encode (or recurse on) for one object it cannot,
        with secret values already replaced."""
        try:
            fields = stored_fields(obj)
            return scrub(_convert(obj) if fields is None else fields)
        except Exception:
            return _opaque(obj)

    return default


default = make_default(DEFAULT.scrub)


def _convert(obj: object) -> object:
    """Apply the conversion rules of the module docstring table, most common kinds first."""
    if isinstance(obj, BaseModel):
        return _model_dump(obj)
    if isinstance(obj, BaseException):
        return describe_exception(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, bytes | bytearray | memoryview):
        return _bytes_payload(obj)
    if isinstance(obj, set | frozenset):
        return list(obj)
    if hasattr(type(obj), "get_secret_value"):
        # pydantic's SecretStr keeps the secret in __dict__: never let it reach the vars() rule.
        return REDACTED
    if isinstance(obj, type | ModuleType):
        # Their __dict__ is code, not data (a module's holds every global).
        return _opaque(obj)
    # Before the callable test: a mock standing in for a model (as users' tests pass) is
    # callable, and what its `model_dump()` returns is what the package users come from wrote.
    result = _call_method(obj, "model_dump", mode="json")
    if isinstance(result, dict | list):
        return result
    if callable(obj):
        return _opaque(obj)
    for method in ("to_dict", "dict"):
        result = _call_method(obj, method)
        if isinstance(result, dict):
            return result
    if isinstance(obj, Mapping):
        return dict(obj)
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict) and attrs:
        return {"$type": _type_name(obj), **attrs}
    return _opaque(obj)


def _model_dump(model: BaseModel) -> object:
    """The model's dump (see model_fields) that keeps subclass fields; `{"$type", "$repr"}`
    if that raises."""
    try:
        return dump_model(model)
    except Exception:
        pass
    try:  # serialize_as_any has had bugs of its own; the plain dump is still worth a try
        return model.model_dump(warnings=False)
    except Exception:
        return _opaque(model)


def _call_method(obj: object, name: str, **kwargs: object) -> object:
    """Return `obj.name(**kwargs)` (else `obj.name()`) if that is a method that works, else
    None."""
    method = getattr(obj, name, None)
    if not callable(method):
        return None
    try:
        return method(**kwargs)
    except TypeError:
        if not kwargs:
            return None
    except Exception:
        return None
    try:  # a model_dump() of its own, without pydantic's keywords
        return method()
    except Exception:
        return None


def _bytes_payload(obj: bytes | bytearray | memoryview) -> dict[str, object]:
    """Base64 of the first `_MAX_BYTES_RAW` bytes, with the full length when cut."""
    raw = obj.tobytes() if isinstance(obj, memoryview) else obj
    payload: dict[str, object] = {"$bytes_b64": base64.b64encode(raw[:_MAX_BYTES_RAW]).decode()}
    if len(raw) > _MAX_BYTES_RAW:
        payload["$bytes_len"] = len(raw)
    return payload


def _opaque(obj: object) -> dict[str, object]:
    """`{"$type", "$repr"}` for an object we can only name; `$repr` is dropped if repr raises."""
    described: dict[str, object] = {"$type": _type_name(obj)}
    with contextlib.suppress(Exception):
        described["$repr"] = _cap(repr(obj))
    return described


def _type_name(obj: object) -> str:
    """`module.QualName` of the object's class, without the `builtins.` prefix."""
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins") else f"{module}.{name}"


def _safe_str(obj: object) -> str:
    """str(obj), else repr(obj), else the type name: __str__ of foreign objects may raise."""
    try:
        return str(obj)
    except Exception:
        return _safe_repr(obj)


def _safe_repr(obj: object) -> str:
    """repr(obj) capped at `_MAX_REPR_CHARS`, else the type name."""
    try:
        return _cap(repr(obj))
    except Exception:
        return f"<{_type_name(obj)}>"


def _cap(text: str) -> str:
    """Cut text to `_MAX_REPR_CHARS` characters."""
    return text if len(text) <= _MAX_REPR_CHARS else text[:_MAX_REPR_CHARS] + "…"


# --- slow path: orjson refused the object --------------------------------------------------


def slow_json(obj: object, scrub: Callable[[object], object] = DEFAULT.scrub) -> bytes:
    """Walk obj into a plain tree orjson accepts, redact it with `scrub`, then encode it; never
    raises."""
    # Retry shallower if the caller's stack is already deep enough for 200 levels to overflow.
    error: BaseException | None = None
    for max_depth in (_MAX_DEPTH, _MAX_DEPTH // 5):
        try:
            # The walk converts objects without `default`, so the plain tree is scrubbed here.
            return orjson.dumps(scrub(_plain(obj, max_depth, set())))
        except RecursionError as exc:
            error = exc
        except Exception as exc:
            return _last_resort(exc)
    return _last_resort(error)


def _plain(obj: object, depth_left: int, path: set[int]) -> object:
    """A copy of obj made of dict/list/str/int/float/bool/None only.

    `path` holds the ids of the containers between the root and obj, so a shared (but acyclic)
    object is written twice while a cycle becomes "$cycle". One Python frame per level (loops,
    no comprehensions) keeps 200 levels well inside the interpreter's recursion limit.
    """
    if obj is None or isinstance(obj, bool | float):
        return obj
    if isinstance(obj, str):
        return _clean_str(obj)
    if isinstance(obj, int):
        return int(obj) if _INT_MIN <= obj < _INT_LIMIT else str(obj)
    if depth_left <= 0:
        return "$max_depth"
    if id(obj) in path:
        return "$cycle"
    path.add(id(obj))
    out: object
    if isinstance(obj, dict):
        items: dict[str, object] = {}
        for key, value in obj.items():
            items[_clean_key(key)] = _plain(value, depth_left - 1, path)
        out = items
    elif isinstance(obj, list | tuple | set | frozenset):
        elements: list[object] = []
        for value in obj:
            elements.append(_plain(value, depth_left - 1, path))
        out = elements
    else:
        out = _plain(_native_or_default(obj), depth_left - 1, path)
    path.discard(id(obj))
    return out


def _native_or_default(obj: object) -> object:
    """One step towards plain data for a non-container leaf, as orjson (or `_default`) would."""
    try:
        if isinstance(obj, orjson.Fragment):  # JSON encoded earlier (a part shared by two
            return orjson.loads(orjson.dumps(obj))  # keys): its text is all it gives back
        if isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, datetime.date | datetime.time):
            return obj.isoformat()
        if isinstance(obj, enum.Enum):
            return obj.value
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return _convert(obj)
    except Exception:
        return _opaque(obj)


def _clean_key(key: object) -> str:
    """A str dict key, spelled as orjson's OPT_NON_STR_KEYS would where it can."""
    try:
        if isinstance(key, str):
            return _clean_str(key)
        if key is None or isinstance(key, bool):
            return "null" if key is None else str(key).lower()
        if isinstance(key, enum.Enum):
            return _clean_str(_safe_str(key.value))
        if isinstance(key, bytes | bytearray):
            return bytes(key).decode("utf-8", "backslashreplace")
        if isinstance(key, datetime.date | datetime.time):
            return key.isoformat()
        return _clean_str(_safe_str(key))
    except Exception:
        return _type_name(key)


def _clean_str(text: str) -> str:
    """text, with lone surrogates (which UTF-8 cannot hold) written as `\\udXXX` escapes."""
    if text.isascii():  # O(1) in CPython: the flag is stored on the string
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        # The UTF-16 round trip joins surrogate pairs (e.g. from JavaScript) into real characters.
        joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return joined.encode("utf-8", "backslashreplace").decode("utf-8")


def _last_resort(error: BaseException | None) -> bytes:
    """`{"$unserializable": "<error>"}`; a constant if even that cannot be built."""
    try:
        text = _clean_str(_cap(f"{type(error).__name__}: {_safe_str(error)}"))
        return orjson.dumps({"$unserializable": text})
    except Exception:
        return b'{"$unserializable":"unknown error"}'
