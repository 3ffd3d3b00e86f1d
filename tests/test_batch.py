"""batch_run: row order, custom ids, failures, timeouts, retries, bounds, progress."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from langchain_core.callbacks import CallbackManager
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from parquet_logger import ParquetLogger, with_tags
from parquet_logger.batch.run import RowTimeoutError, batch_run
from tests.batch_models import FakeRateLimitError, ScriptedChat
from tests.support import read_rows

FAST_RETRY: dict[str, Any] = {"retry_initial_wait_s": 0.0}


def frame(prompts: list[str], logger: ParquetLogger | None = None) -> pd.DataFrame:
    base = {"callbacks": [logger]} if logger is not None else None
    configs = [with_tags(custom_id=f"row-{i}", config=base) for i in range(len(prompts))]
    return pd.DataFrame({"prompt": prompts, "config": configs})


async def test_results_in_row_order_and_custom_id_on_every_event(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """Results come back in row order and every logged event carries its row's custom id."""
    logger = make_logger()
    prompts = [f"question {i}" * (1 + i % 3) for i in range(40)]
    results = await batch_run(frame(prompts, logger), ScriptedChat(), max_concurrency=7)
    assert results is not None
    assert [r.content for r in results] == [f"echo: {p}" for p in prompts]
    logger.flush()
    rows = read_rows(log_dir)
    assert len(rows) == 80  # chat_model_start + llm_end per row
    assert set(rows["custom_id"]) == {f"row-{i}" for i in range(40)}
    assert rows.groupby("custom_id")["event_type"].apply(sorted).map(tuple).unique().tolist() == [
        ("chat_model_start", "llm_end")
    ]


async def test_failed_rows_yield_their_exception_and_are_logged(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """With return_exceptions, a failed row's slot holds its exception; llm_error is logged."""
    logger = make_logger()
    prompts = ["ok 0", "fail 1", "ok 2", "fail 3"]
    results = await batch_run(frame(prompts, logger), ScriptedChat(), show_progress=False)
    assert results is not None
    assert isinstance(results[1], ValueError)
    assert "fail 1" in str(results[1])
    assert isinstance(results[3], ValueError)
    assert [r.content for r in (results[0], results[2])] == ["echo: ok 0", "echo: ok 2"]
    logger.flush()
    rows = read_rows(log_dir)
    errors = rows[rows["event_type"] == "llm_error"]
    assert sorted(errors["custom_id"]) == ["row-1", "row-3"]


async def test_first_failure_cancels_the_rest_when_not_returning_exceptions() -> None:
    """return_exceptions=False raises the first failure and cancels the rows in flight."""
    llm = ScriptedChat()
    prompts = ["slow a", "slow b", "fail now", *(f"ok {i}" for i in range(50))]
    started = time.monotonic()
    with pytest.raises(ValueError, match="fail now"):
        await batch_run(frame(prompts), llm, max_concurrency=3, return_exceptions=False)
    assert time.monotonic() - started < 10
    assert llm.in_flight == 0  # the hanging rows were cancelled, not left running
    assert "ok 49" not in llm.attempts  # the rows after the failure never started


async def test_row_timeout_fails_only_the_slow_rows(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A row over row_timeout fails with RowTimeoutError; the LLM run is logged as an error."""
    logger = make_logger()
    prompts = ["ok 0", "slow 1", "ok 2"]
    results = await batch_run(frame(prompts, logger), ScriptedChat(), row_timeout=0.2)
    assert results is not None
    assert isinstance(results[1], RowTimeoutError)
    assert "row 1" in str(results[1])
    assert "row_timeout" in str(results[1])
    assert results[0].content == "echo: ok 0"
    assert results[2].content == "echo: ok 2"
    logger.flush()
    rows = read_rows(log_dir)
    assert rows[rows["custom_id"] == "row-1"]["event_type"].tolist().count("llm_error") == 1


async def test_transient_errors_are_retried_and_each_retry_logged(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """Two 429s then success: the row succeeds, and two retry rows name the failed runs."""
    logger = make_logger(event_types=["chat_model_start", "llm_end", "llm_error", "retry"])
    llm = ScriptedChat(flaky_failures=2)
    results = await batch_run(frame(["flaky 0", "ok 1"], logger), llm, **FAST_RETRY)
    assert results is not None
    assert results[0].content == "echo: flaky 0"
    assert llm.attempts == {"flaky 0": 3, "ok 1": 1}
    logger.flush()
    rows = read_rows(log_dir)
    retries = rows[rows["event_type"] == "retry"]
    assert len(retries) == 2
    assert set(retries["custom_id"]) == {"row-0"}
    failed_runs = set(rows[rows["event_type"] == "llm_error"]["run_id"])
    assert set(retries["run_id"]) == failed_runs
    assert len(failed_runs) == 2


async def test_retries_stop_after_max_retries_and_skip_permanent_errors() -> None:
    """A transient error is retried max_retries times; a permanent one is not retried."""
    llm = ScriptedChat(flaky_failures=10)
    results = await batch_run(
        frame(["flaky x", "fail y"]), llm, max_retries=3, show_progress=False, **FAST_RETRY
    )
    assert results is not None
    assert isinstance(results[0], FakeRateLimitError)
    assert llm.attempts == {"flaky x": 4, "fail y": 1}


async def test_concurrency_is_bounded() -> None:
    """No more than max_concurrency rows are in flight at once."""
    llm = ScriptedChat()
    await batch_run(frame([f"q{i}" * (i % 5 + 1) for i in range(60)]), llm, max_concurrency=4)
    assert 1 < llm.max_in_flight <= 4


async def test_missing_optional_columns_and_none_values_are_skipped() -> None:
    """Only the prompt column is required; None configs and tools are left out."""
    only_prompt = pd.DataFrame({"prompt": ["a", "b"]})
    results = await batch_run(only_prompt, ScriptedChat())
    assert results is not None
    assert [r.content for r in results] == ["echo: a", "echo: b"]
    sparse = pd.DataFrame({"prompt": ["a", "b"], "config": [None, with_tags(custom_id="x")]})
    sparse["tools"] = [None, None]
    results = await batch_run(sparse, ScriptedChat())
    assert results is not None
    assert results[1].content == "echo: b"


async def test_tools_go_to_models_without_bind_tools_as_an_argument() -> None:
    """A model without bind_tools still gets the row's tools (as the seed package did)."""
    df = pd.DataFrame({"prompt": ["a"], "tools": [[{"type": "function"}]]})
    results = await batch_run(df, FakeListChatModel(responses=["r"]))
    assert results is not None
    assert results[0].content == "r"


async def test_batch_callbacks_join_a_callback_manager_config(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """callbacks= reaches rows whose config holds a CallbackManager, which is not modified."""
    logger = make_logger()
    manager = CallbackManager(handlers=[])
    df = pd.DataFrame({"prompt": ["a"], "config": [{"callbacks": manager, "tags": ["t"]}]})
    await batch_run(df, ScriptedChat(), callbacks=[logger])
    assert manager.handlers == []
    logger.flush()
    assert len(read_rows(log_dir)) == 2


async def test_caller_data_is_not_modified(make_logger: Callable[..., ParquetLogger]) -> None:
    """The DataFrame and its configs are left as they were (no run ids, no callbacks)."""
    logger = make_logger()
    df = frame(["a", "flaky b"])
    before = [dict(c) for c in df["config"]]
    await batch_run(df, ScriptedChat(flaky_failures=1), callbacks=[logger], **FAST_RETRY)
    assert [dict(c) for c in df["config"]] == before
    assert list(df.columns) == ["prompt", "config"]


async def test_bad_arguments_name_the_parameter() -> None:
    """Bad input fails before any row runs, with the parameter named."""
    df = pd.DataFrame({"question": ["a"]})
    with pytest.raises(ValueError, match=r"prompt_col.*'prompt'.*\['question'\]"):
        await batch_run(df, ScriptedChat())
    with pytest.raises(TypeError, match="df must be a pandas DataFrame"):
        await batch_run([{"prompt": "a"}], ScriptedChat())
    with pytest.raises(TypeError, match="llm"):
        await batch_run(frame(["a"]), "gpt-4")
    with pytest.raises(ValueError, match="max_concurrency"):
        await batch_run(frame(["a"]), ScriptedChat(), max_concurrency=0)
    with pytest.raises(ValueError, match="row_timeout"):
        await batch_run(frame(["a"]), ScriptedChat(), row_timeout=-1)
    with pytest.raises(ValueError, match="max_retries"):
        await batch_run(frame(["a"]), ScriptedChat(), max_retries=-1)


async def test_row_config_that_is_not_a_dict_fails_that_row() -> None:
    """A config cell that is not a dict is that row's TypeError, naming the row."""
    df = pd.DataFrame({"prompt": ["a", "b"], "config": [None, "oops"]})
    results = await batch_run(df, ScriptedChat())
    assert results is not None
    assert isinstance(results[1], TypeError)
    assert "row 1" in str(results[1])


async def test_progress_bar_counts_rows_and_failures(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar shows rows done and failures; TQDM_DISABLE or show_progress=False silence it."""
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    await batch_run(frame(["a", "fail b", "c"]), ScriptedChat(), progress_desc="demo")
    err = capsys.readouterr().err
    assert "demo" in err
    assert "3/3" in err
    assert "failed=1" in err
    await batch_run(frame(["a"]), ScriptedChat(), show_progress=False)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    await batch_run(frame(["a"]), ScriptedChat())
    assert capsys.readouterr().err == ""


async def peak_bytes(rows: int, return_results: bool) -> int:
    """The traced memory peak of one batch_run over `rows` rows of a fake model."""
    df = pd.DataFrame({"prompt": [f"q{i}" for i in range(rows)]})
    llm = FakeListChatModel(responses=["an answer of moderate length"])
    # Collect cyclic garbage often while measuring: otherwise the peak also counts garbage
    # awaiting the next collection, which grows with the run's length and made this flaky.
    gc.collect()
    # CPython runs a full collection only once the objects waiting for one exceed a quarter of
    # the long-lived ones: in a process that imported large libraries (Ray, earlier in this
    # suite) the run's cyclic garbage (tenacity's per-row retry state) would wait past the
    # measurement. Frozen objects are left out, and the full collection after the freeze
    # resets the long-lived count to the few objects not frozen.
    gc.freeze()
    gc.collect()
    thresholds = gc.get_threshold()
    gc.set_threshold(100, 2, 2)
    tracemalloc.start()
    try:
        await batch_run(
            df, llm, max_concurrency=20, return_results=return_results, show_progress=False
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def test_return_results_false_keeps_memory_flat() -> None:
    """With return_results=False the peak does not grow with the rows; with results it does."""
    await peak_bytes(300, False)  # warm-up: LangChain's caches fill on the first calls
    small, large = await peak_bytes(300, False), await peak_bytes(2000, False)
    with_results = await peak_bytes(2000, True)
    result_list_bytes = with_results - large  # what 2000 kept results cost
    assert result_list_bytes > 1_000_000  # about 700 bytes per kept AIMessage result
    assert large - small < result_list_bytes / 3, (small, large, with_results)


async def test_cancelling_the_batch_cancels_its_rows() -> None:
    """Cancelling the awaiting task leaves no row running."""
    llm = ScriptedChat()
    task = asyncio.create_task(batch_run(frame(["slow 1", "slow 2"]), llm))
    while llm.in_flight < 2:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert llm.in_flight == 0
