"""Awkward values in the typed columns never cost the row (issue #12, item 9): the row is
stored, the bad value replaced (lone surrogates) or nulled (integers past int64), and the
payload's `repaired` list names the columns that were changed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from parquet_logger import ParquetLogger
from tests.support import read_rows

EVENTS = ["llm_start", "chat_model_start", "llm_end", "tool_start"]


def logged_row(make_logger: Any, log_dir: Path, **start_kwargs: Any) -> pd.Series:
    """Log one llm_start with `start_kwargs` and return its row, read back from Parquet."""
    logger: ParquetLogger = make_logger(event_types=EVENTS, flush_interval_s=0.1)
    kwargs: dict[str, Any] = {"serialized": {"name": "S"}, "prompts": ["hi"]}
    kwargs.update(start_kwargs)
    logger.on_llm_start(run_id=uuid.uuid4(), **kwargs)
    logger.flush(timeout=30)
    assert logger.stats()["callback_failures"] == 0
    rows = read_rows(log_dir)
    assert len(rows) == 1, "the event must be stored"
    return rows.iloc[0]


def repaired(row: pd.Series) -> list[str]:
    """The payload's `repaired` list ([] when the row has none)."""
    return json.loads(row["payload"]).get("repaired", [])


def texts_in(tree: Any) -> set[str]:
    """Every string value in a decoded JSON tree."""
    if isinstance(tree, str):
        return {tree}
    values = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else []
    return set().union(*map(texts_in, values))


def test_a_plain_row_is_not_marked(make_logger, log_dir):
    """Valid text and small counts take the fast path: no `repaired` key at all."""
    row = logged_row(make_logger, log_dir, tags=["logger_custom_id:caf\u00e9"])
    assert row["custom_id"] == "caf\u00e9"
    assert "repaired" not in json.loads(row["payload"])


@pytest.mark.parametrize(
    ("start_kwargs", "column", "expected", "kept"),
    [
        ({"tags": ["logger_custom_id:a\ud800b"]}, "custom_id", "a\ufffdb", "a\\ud800b"),
        ({"serialized": {"name": "x\ud800"}}, "name", "x\ufffd", "x\\ud800"),
        ({"name": "n\udfff"}, "name", "n\ufffd", "n\\udfff"),
        ({"invocation_params": {"model": "m\ud800"}}, "model", "m\ufffd", "m\\ud800"),
        # A surrogate pair kept as two code points (text from JavaScript) is joined instead.
        ({"tags": ["logger_custom_id:\ud83d\ude00"]}, "custom_id", "\U0001f600", "\U0001f600"),
    ],
)
def test_lone_surrogates_in_typed_columns_are_replaced(
    make_logger, log_dir, start_kwargs, column, expected, kept
):
    """A lone surrogate in a typed column's source is replaced, and the column is marked; the
    payload keeps the original text, the surrogate written as a `\\udXXX` escape."""
    row = logged_row(make_logger, log_dir, **start_kwargs)
    assert row[column] == expected
    assert column in repaired(row)
    assert kept in texts_in(json.loads(row["payload"]))


def test_non_string_tags_keep_the_row(make_logger, log_dir):
    """`tags=[1, ...]` (not strings) is logged as given; the custom id still comes through."""
    row = logged_row(make_logger, log_dir, tags=[1, "logger_custom_id:q1", None])
    assert row["custom_id"] == "q1"
    assert json.loads(row["payload"])["execution"]["tags"] == [1, "logger_custom_id:q1", None]


def logged_end(make_logger: Any, log_dir: Path, big: int) -> pd.Series:
    """Log a chat model's start and an end whose input count is `big`; the end's row."""
    logger: ParquetLogger = make_logger(event_types=EVENTS, flush_interval_s=0.1)
    run = uuid.uuid4()
    logger.on_chat_model_start({"name": "chat"}, [[HumanMessage("hi")]], run_id=run)
    usage = {"input_tokens": big, "output_tokens": 1, "total_tokens": big + 1}
    message = AIMessage("x", usage_metadata=usage)
    logger.on_llm_end(LLMResult(generations=[[ChatGeneration(message=message)]]), run_id=run)
    logger.flush(timeout=30)
    assert logger.stats()["callback_failures"] == 0
    return read_rows(log_dir).set_index("event_type").loc["llm_end"]


def test_token_count_just_past_int64_is_nulled_and_marked(make_logger, log_dir):
    """2**63 is JSON orjson writes (up to 2**64 - 1) but no int64: null in the column, the
    exact number in the payload."""
    end = logged_end(make_logger, log_dir, 2**63)
    assert pd.isna(end["input_tokens"])
    assert end["output_tokens"] == 1
    assert repaired(end) == ["input_tokens", "total_tokens"]
    assert json.loads(end["payload"])["data"]["usage_metadata"]["input_tokens"] == 2**63


def test_token_count_past_int64_is_nulled_and_marked(make_logger, log_dir):
    """A token count of 2**70 cannot be an int64 column: null there, the exact value kept in
    the payload (as a decimal string: JSON numbers past 64 bits are not portable), and the
    column named in `repaired`."""
    end = logged_end(make_logger, log_dir, 2**70)
    assert pd.isna(end["input_tokens"])
    assert pd.isna(end["total_tokens"])
    assert end["output_tokens"] == 1
    assert {"input_tokens", "total_tokens"} <= set(repaired(end))
    assert str(2**70) in end["payload"]
    assert json.loads(end["payload"])["data"]["usage_metadata"]["input_tokens"] == str(2**70)
