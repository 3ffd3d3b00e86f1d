"""safe_json: every documented fallback, the size bound, and a property test: it never raises."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import math
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from pydantic import BaseModel, SecretStr

from parquet_logger.encode import safe_json as safe_json_module
from parquet_logger.encode.convert import describe_exception
from parquet_logger.encode.safe_json import safe_json as dumps

MB = 1024 * 1024


def load(obj: object, max_bytes: int = MB) -> Any:
    """dumps obj (checking the contract every caller relies on) and parse the result."""
    data, original = dumps(obj, max_bytes)
    assert isinstance(data, bytes)
    assert len(data) <= max_bytes
    assert original is None
    return orjson.loads(data)


class ExplodingDump(BaseModel):
    """A pydantic model whose model_dump raises."""

    x: int = 1

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("model_dump exploded")


class ExplodingEverything(ExplodingDump):
    """A pydantic model whose model_dump and repr both raise."""

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class BadRepr:
    """An object with nothing to serialize and a repr that raises."""

    __slots__ = ()

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class HasToDict:
    """An object offering to_dict()."""

    def to_dict(self) -> dict[str, int]:
        return {"via": 1}


class HasDict:
    """A pydantic-v1-style object offering dict()."""

    __slots__ = ()

    def dict(self) -> dict[str, int]:
        return {"via": 2}


class Plain:
    """An ordinary object with attributes."""

    def __init__(self) -> None:
        self.name = "plain"
        self.when = datetime.date(2024, 5, 1)


class Color(enum.Enum):
    """An enum for the slow path."""

    RED = "red"


@dataclasses.dataclass
class Point:
    """A dataclass for the slow path."""

    x: int
    label: str


def raised(exc: BaseException) -> BaseException:
    """Raise exc and return it with its traceback."""
    try:
        raise exc
    except BaseException as caught:
        return caught


# --- fast path: LangChain objects ----------------------------------------------------------


def test_langchain_llm_result_keeps_message_and_usage() -> None:
    """An LLMResult with a ChatGeneration is written with its message and usage metadata."""
    message = AIMessage(
        content="hello " * 200,
        usage_metadata={"input_tokens": 3, "output_tokens": 5, "total_tokens": 8},
        response_metadata={"model_name": "gpt-4o", "finish_reason": "stop"},
    )
    result = LLMResult(generations=[[ChatGeneration(message=message)]], llm_output={"a": 1})
    written = load({"response": result, "run_id": uuid.UUID(int=7)})
    generation = written["response"]["generations"][0][0]
    assert generation["message"]["content"] == "hello " * 200
    assert generation["message"]["usage_metadata"]["total_tokens"] == 8
    assert generation["message"]["response_metadata"]["model_name"] == "gpt-4o"
    assert written["run_id"] == str(uuid.UUID(int=7))


def test_messages_and_documents() -> None:
    """Messages and Documents become their model_dump()."""
    written = load([HumanMessage(content="hi"), Document(page_content="doc", metadata={"p": 2})])
    assert written[0]["content"] == "hi"
    assert written[0]["type"] == "human"
    assert written[1]["page_content"] == "doc"
    assert written[1]["metadata"] == {"p": 2}


def test_fast_path_does_not_walk_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A realistic payload is serialized by orjson alone: the Python walk is never entered."""

    def forbidden(obj: object) -> bytes:
        raise AssertionError("slow path used")

    monkeypatch.setattr(safe_json_module, "slow_json", forbidden)
    result = LLMResult(generations=[[ChatGeneration(message=AIMessage(content="x"))]])
    payload = {"r": result, "t": datetime.datetime.now(datetime.UTC), "s": {1}, "b": b"\x00"}
    assert load(payload)["r"]["generations"][0][0]["message"]["content"] == "x"


# --- conversion rules ----------------------------------------------------------------------


def test_model_dump_raising_gives_type_and_repr() -> None:
    """A model whose model_dump raises is written as $type and $repr."""
    written = load(ExplodingDump())
    assert written == {"$type": f"{__name__}.ExplodingDump", "$repr": "ExplodingDump(x=1)"}


def test_repr_raising_gives_type_only() -> None:
    """When repr raises too, only $type is left."""
    assert load(ExplodingEverything()) == {"$type": f"{__name__}.ExplodingEverything"}
    assert load(BadRepr()) == {"$type": f"{__name__}.BadRepr"}


def test_opaque_repr_is_capped() -> None:
    """Objects we can only name get a repr of at most about 1000 chars."""

    class Long:
        __slots__ = ()

        def __repr__(self) -> str:
            return "L" * 5000

    written = load(Long())
    assert written["$type"].endswith("Long")
    assert len(written["$repr"]) <= 1001


def test_exception_with_traceback_and_cause() -> None:
    """Raised exceptions carry type, message, a traceback including the cause, and repr."""
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        described = describe_exception(exc)
        written = load({"error": exc})["error"]
    assert written == described
    assert described["type"] == "ValueError"
    assert described["message"] == "outer"
    assert described["repr"] == "ValueError('outer')"
    traceback_text = described["traceback"]
    assert isinstance(traceback_text, str)
    assert "test_exception_with_traceback_and_cause" in traceback_text
    assert "KeyError: 'inner'" in traceback_text


def test_exception_never_raised_has_no_traceback() -> None:
    """An exception that was never raised has traceback None."""
    assert describe_exception(RuntimeError("x"))["traceback"] is None


def test_exception_qualified_name_and_broken_str() -> None:
    """A non-builtin exception is named by module, and a raising __str__ does not escape."""

    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    described = describe_exception(raised(Broken()))
    assert described["type"] == f"{__name__}.{Broken.__qualname__}"
    assert isinstance(described["message"], str)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_are_base64(kind: Any) -> None:
    """bytes, bytearray and memoryview become $bytes_b64."""
    raw = bytes(range(256))
    written = load({"blob": kind(raw)})["blob"]
    assert base64.b64decode(written["$bytes_b64"]) == raw
    assert "$bytes_len" not in written


def test_big_bytes_are_capped_with_length() -> None:
    """Bytes over 48 KiB keep only their start, plus the full length."""
    raw = b"\xab" * (5 * MB)
    written = load(raw)
    assert len(base64.b64decode(written["$bytes_b64"])) == 48 * 1024
    assert written["$bytes_len"] == 5 * MB


def test_sets_become_lists() -> None:
    """set and frozenset become lists."""
    written = load({"s": {1, 2}, "f": frozenset({"a"})})
    assert sorted(written["s"]) == [1, 2]
    assert written["f"] == ["a"]


def test_secret_str_is_never_written() -> None:
    """pydantic SecretStr (directly or inside a model) is written as ***."""

    class Config(BaseModel):
        api_key: SecretStr

    data, _ = dumps(
        {"raw": SecretStr("sk-live-123"), "cfg": Config(api_key=SecretStr("sk-live-456"))}, MB
    )
    assert b"sk-live" not in data
    assert orjson.loads(data) == {"raw": "***", "cfg": {"api_key": "***"}}


def test_to_dict_dict_mapping_and_attributes() -> None:
    """to_dict(), dict(), other mappings and __dict__ are used in that order."""
    import types

    written = load(
        {
            "to_dict": HasToDict(),
            "dict": HasDict(),
            "mapping": types.MappingProxyType({"m": 3}),
            "plain": Plain(),
        }
    )
    assert written["to_dict"] == {"via": 1}
    assert written["dict"] == {"via": 2}
    assert written["mapping"] == {"m": 3}
    assert written["plain"] == {
        "$type": f"{__name__}.Plain",
        "name": "plain",
        "when": "2024-05-01",
    }


def test_functions_types_and_modules_are_named_not_walked() -> None:
    """Callables, classes and modules get $type/$repr, never their __dict__."""
    written = load({"f": len, "cls": Plain, "mod": math})
    assert written["f"]["$type"] == "builtin_function_or_method"
    assert written["cls"] == {"$type": "type", "$repr": repr(Plain)}
    assert written["mod"]["$repr"].startswith("<module 'math'")


def test_nan_and_inf_are_null() -> None:
    """NaN and infinities are written as null (orjson's behaviour, kept)."""
    assert load([math.nan, math.inf, -math.inf, 1.5]) == [None, None, None, 1.5]


# --- slow path -----------------------------------------------------------------------------


def test_lone_surrogates_in_values_and_keys() -> None:
    """Lone surrogates in values and keys become backslash escapes; the rest survives."""
    written = load({"v": "a\udc80b", "k\ud800": 1, "ok": [datetime.date(2024, 1, 2)]})
    assert written == {"v": "a\\udc80b", "k\\ud800": 1, "ok": ["2024-01-02"]}


def test_surrogate_pair_is_joined() -> None:
    """A valid surrogate pair (as JavaScript would split an emoji) becomes the real character."""
    assert load(["\ud83d\ude00", "\udc80"]) == ["\U0001f600", "\\udc80"]


def test_fragments_keep_their_json_on_the_slow_path() -> None:
    """A part encoded earlier (an orjson.Fragment, as the handler shares between `data` and
    `raw`) keeps its content when a neighbour sends the envelope down the slow path."""
    shared = orjson.Fragment(orjson.dumps({"model": "m", "n": [1, 2]}))
    written = load({"params": shared, "name": "x\ud800", "tokens": 2**70})
    assert written == {
        "params": {"model": "m", "n": [1, 2]},
        "name": "x\\ud800",
        "tokens": str(2**70),
    }


def test_cyclic_dict_and_list() -> None:
    """Cycles in dicts and lists become "$cycle"; the rest of the payload survives."""
    cyclic_dict: dict[str, Any] = {"name": "d"}
    cyclic_dict["self"] = cyclic_dict
    cyclic_list: list[Any] = [1]
    cyclic_list.append(cyclic_list)
    written = load({"d": cyclic_dict, "l": cyclic_list})
    assert written == {"d": {"name": "d", "self": "$cycle"}, "l": [1, "$cycle"]}


def test_cycle_through_object_attributes() -> None:
    """An object graph that loops through __dict__ ends in "$cycle"."""
    node = Plain()
    node.__dict__["me"] = node
    written = load(node)
    assert written["me"] == "$cycle"


def test_shared_reference_is_not_a_cycle() -> None:
    """The same object twice (no loop) is written twice, even on the slow path."""
    shared = {"x": 1}
    assert load([shared, shared, "\udc80"]) == [{"x": 1}, {"x": 1}, "\\udc80"]


def test_deeply_nested_dict() -> None:
    """A 10,000-deep dict is cut at depth 200 with "$max_depth"."""
    root: dict[str, Any] = {}
    node = root
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    written = load(root)
    depth = 0
    while isinstance(written, dict):
        written = written["a"]
        depth += 1
    assert written == "$max_depth"
    assert depth == 200


def test_deep_nesting_with_little_stack_left() -> None:
    """With too little stack for 200 levels, the walk retries shallower instead of failing."""

    def nest(levels: int) -> dict[str, Any]:
        root: dict[str, Any] = {}
        node = root
        for _ in range(levels):
            node["a"] = {}
            node = node["a"]
        return root

    def frames() -> int:
        frame, count = sys._getframe(), 0
        while frame is not None:
            frame, count = frame.f_back, count + 1  # type: ignore[assignment]
        return count

    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames() + 120)
    try:
        data, original = dumps(nest(1000), MB)
    finally:
        sys.setrecursionlimit(old_limit)
    assert original is None
    assert b"$max_depth" in data
    orjson.loads(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**64 - 1, 2**64 - 1),
        (-(2**63), -(2**63)),
        (2**64, str(2**64)),
        (-(2**63) - 1, str(-(2**63) - 1)),
        (10**100, str(10**100)),
    ],
)
def test_big_ints(value: int, expected: object) -> None:
    """Integers outside orjson's 64-bit range become decimal strings; the edges stay ints."""
    assert load({"n": value}) == {"n": expected}


def test_non_str_keys() -> None:
    """Keys orjson rejects (tuples, bytes) are stringified; the others keep orjson's spelling."""
    written = load({(1, 2): "t", b"raw": "b", 3: "i", None: "n", True: "y", 2**70: "big"})
    assert written == {"(1, 2)": "t", "raw": "b", "3": "i", "null": "n", "true": "y"} | {
        str(2**70): "big"
    }


def test_slow_path_native_types() -> None:
    """On the slow path UUIDs, datetimes, enums and dataclasses look as orjson writes them."""
    stamp = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    payload = {"u": uuid.UUID(int=1), "t": stamp, "e": Color.RED, "p": Point(1, "a")}
    fast = load(payload)
    slow = load({**payload, "force": "\udc80"})
    del slow["force"]
    assert slow == fast


def test_unserializable_last_resort() -> None:
    """When even the walk fails, the result is {"$unserializable": <error>}."""

    class Hostile(dict[str, Any]):
        def items(self) -> Iterator[Any]:  # type: ignore[override]
            raise RuntimeError("no items for you")

    written = load(Hostile({"bad": "\udc80"}))
    assert written == {"$unserializable": "RuntimeError: no items for you"}


# --- size bound ----------------------------------------------------------------------------


def test_50mb_string_fits_in_4mb() -> None:
    """A 50 MB string with max_bytes=4 MB is cut with a marker; the original size is returned."""
    payload = {"prompt": "p" * (50 * MB), "model": "gpt-4o"}
    full_size = len(orjson.dumps(payload))
    data, original = dumps(payload, 4 * MB)
    assert original == full_size
    assert len(data) <= 4 * MB
    written = orjson.loads(data)
    assert written["model"] == "gpt-4o"
    assert written["prompt"].endswith(" chars]")
    assert "…[truncated " in written["prompt"]
    assert len(data) > 3 * MB  # the budget is used, not thrown away


def test_multibyte_strings_are_cut_to_fit() -> None:
    """Strings of 3-byte characters and escaped control characters are cut to fit as well."""
    payload = {"cjk": "漢" * 2_000_000, "ctrl": "\x01" * 1_000_000, "keep": 1}
    data, original = dumps(payload, MB)
    assert original is not None
    assert len(data) <= MB
    assert orjson.loads(data)["keep"] == 1


def test_prefix_fallback_when_strings_cannot_shrink() -> None:
    """Many numbers cannot be cut: a valid UTF-8 prefix of the JSON is kept instead."""
    payload = list(range(300_000))
    full = orjson.dumps(payload)
    data, original = dumps(payload, 4096)
    assert original == len(full)
    assert len(data) <= 4096
    prefix = orjson.loads(data)["$truncated_json_prefix"]
    assert full.startswith(prefix.encode())
    assert len(prefix) > 3000


@pytest.mark.parametrize("max_bytes", [1024, 1025, 1026, 1027, 1500, 4099])
def test_prefix_fallback_exact_bound_with_quotes_and_multibyte(max_bytes: int) -> None:
    """The prefix never splits a character and, with quotes doubling, still fits."""
    payload = [['"é"', "\\", 1] for _ in range(5000)]
    data, original = dumps(payload, max_bytes)
    assert original is not None
    assert len(data) <= max_bytes
    prefix = orjson.loads(data)["$truncated_json_prefix"]
    assert orjson.dumps(payload).startswith(prefix.encode())
    assert len(data) >= max_bytes - 8


def test_small_result_untouched() -> None:
    """A result within max_bytes is returned as orjson wrote it, with no original size."""
    assert dumps({"a": [1, "b"]}, 1024) == (b'{"a":[1,"b"]}', None)


# --- property ------------------------------------------------------------------------------

_text = st.text(
    st.one_of(
        st.characters(codec=None, exclude_categories=()),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    ),
    max_size=40,
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
    st.binary(max_size=64),
    st.text(max_size=3).map(lambda s: s * 2000),  # long strings, to exercise cutting
    st.sampled_from([uuid.UUID(int=3), Color.RED, Point(2, "p"), datetime.date(2020, 2, 2)]),
)
_keys = st.one_of(_text, st.integers(), st.tuples(st.integers()), st.binary(max_size=8))
_trees = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.tuples(children, children),
        st.dictionaries(_keys, children, max_size=6),
        st.frozensets(st.integers(), max_size=4),
    ),
    max_leaves=40,
)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(obj=_trees, max_bytes=st.integers(min_value=1024, max_value=20_000))
def test_dumps_never_raises_and_fits(obj: object, max_bytes: int) -> None:
    """For arbitrary data with odd leaves, dumps returns valid JSON within max_bytes."""
    data, original = dumps(obj, max_bytes)
    assert len(data) <= max_bytes
    orjson.loads(data)
    assert original is None or original > max_bytes
