"""A seed-style `event_types` that records `llm_start` but not `chat_model_start` loses every
chat model's start without a word (issue #12, item 14): the logger warns once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from parquet_logger import ParquetLogger
from tests.support import read_rows


def chat_warnings(
    make_logger: Any, log_dir: Path, caplog: pytest.LogCaptureFixture, event_types: Any
) -> tuple[list[logging.LogRecord], list[str]]:
    """Run a real fake chat model three times under a logger of `event_types`; return the
    warnings that name chat_model_start and the event types of the rows written."""
    logger: ParquetLogger = make_logger(event_types=event_types, flush_interval_s=0.1)
    model = FakeListChatModel(responses=["a", "b", "c"])
    with caplog.at_level(logging.WARNING, logger="parquet_logger"):
        for question in ("1", "2", "3"):
            model.invoke(question, config={"callbacks": [logger]})
    logger.flush(timeout=30)
    warned = [r for r in caplog.records if "chat_model_start" in r.getMessage()]
    rows = read_rows(log_dir)
    return warned, [] if rows.empty else sorted(rows["event_type"])


@pytest.mark.parametrize("event_types", [["llm_start", "llm_end"], ["llm_start"]])
def test_llm_start_without_chat_model_start_warns_once(make_logger, log_dir, caplog, event_types):
    """Three chat model runs: one warning that says to add "chat_model_start"."""
    warned, kinds = chat_warnings(make_logger, log_dir, caplog, event_types)
    assert len(warned) == 1
    message = warned[0].getMessage()
    assert 'add "chat_model_start" to event_types' in message
    assert str(log_dir) in message
    assert "chat_model_start" not in kinds
    assert kinds.count("llm_end") == (3 if "llm_end" in event_types else 0)


@pytest.mark.parametrize("event_types", [None, ["llm_start", "chat_model_start"], ["llm_end"]])
def test_no_warning_when_nothing_is_lost(make_logger, log_dir, caplog, event_types):
    """The default set, both starts, or no start asked for: chat model runs give no warning."""
    warned, kinds = chat_warnings(make_logger, log_dir, caplog, event_types)
    assert warned == []
    assert bool(kinds)
