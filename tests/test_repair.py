"""capture.repair: typed column values their column cannot hold, replaced and named."""

from __future__ import annotations

import uuid

import orjson

from parquet_logger.capture.llm_facts import Usage
from parquet_logger.capture.repair import (
    INT64_MAX,
    INT64_MIN,
    counts_fit_int64,
    mark_repaired,
    repair_columns,
)


class Unprintable:
    """An object whose str() raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_values_a_column_holds_are_left_alone() -> None:
    """Valid text, int64 bounds, floats, UUIDs and None: nothing changes, nothing is named."""
    run = uuid.uuid4()
    meta = {"a": "café", "b": INT64_MIN, "c": INT64_MAX, "d": 1.5, "e": run, "f": None}
    assert repair_columns(meta) == []
    assert meta == {"a": "café", "b": INT64_MIN, "c": INT64_MAX, "d": 1.5, "e": run, "f": None}


def test_each_kind_of_awkward_value_is_replaced_and_named() -> None:
    """Lone surrogates become U+FFFD (in a list column's items too), pairs are joined, ints
    past int64 become null, other objects their text (or null when they have none); only
    changed columns are named."""
    meta = {
        "ok": "x",
        "lone": "a\ud800b\udfff",
        "pair": "\ud83d\ude00",
        "high": INT64_MAX + 1,
        "low": INT64_MIN - 1,
        "obj": ("a tuple",),
        "mute": Unprintable(),
        "reasons": ["stop", "x\ud800"],
        "fine_list": ["stop"],
    }
    assert repair_columns(meta) == ["lone", "pair", "high", "low", "obj", "mute", "reasons"]
    assert meta == {
        "ok": "x",
        "lone": "a\ufffdb\ufffd",
        "pair": "\U0001f600",
        "high": None,
        "low": None,
        "obj": "('a tuple',)",
        "mute": None,
        "reasons": ["stop", "x\ufffd"],
        "fine_list": ["stop"],
    }
    orjson.dumps(meta)  # what the ring carries now encodes


def test_mark_puts_repaired_first_in_the_payload() -> None:
    """The payload gains `"repaired": [...]` as its first key and stays valid JSON."""
    payload = orjson.dumps({"event_type": "llm_end", "data": {"n": 1}})
    marked = orjson.loads(mark_repaired(payload, ["name", "input_tokens"]))
    assert list(marked) == ["repaired", "event_type", "data"]
    assert marked["repaired"] == ["name", "input_tokens"]


def test_counts_fit_int64_at_its_bounds() -> None:
    """INT64_MAX fits, one more does not; missing counts fit."""
    usage = Usage()
    assert counts_fit_int64(usage)
    usage.add(INT64_MAX, None, INT64_MIN)
    assert counts_fit_int64(usage)
    usage.add(1, None, None)
    assert not counts_fit_int64(usage)
