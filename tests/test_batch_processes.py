"""batch_run / batch_process with processes=N: same results as one process, crashed workers,
validation."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from langchain_core.runnables import RunnableLambda

from parquet_logger import ParquetLogger, with_tags
from parquet_logger.batch.job import batch_process
from parquet_logger.batch.process_pool import WorkerCrashedError, shard_bounds
from parquet_logger.batch.run import batch_run
from tests.batch_models import CrashingChat, ScriptedChat
from tests.support import read_rows, stop_writer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

QUIET: dict[str, Any] = {"show_progress": False}


def frame(prompts: list[str], logger: ParquetLogger | None = None) -> pd.DataFrame:
    base = {"callbacks": [logger]} if logger is not None else None
    configs = [with_tags(custom_id=f"row-{i}", config=base) for i in range(len(prompts))]
    return pd.DataFrame({"prompt": prompts, "config": configs})


def outcomes(results: list[Any] | None) -> list[str]:
    """Each result as comparable text: the answer, or the exception's type and message."""
    assert results is not None
    return [
        f"{type(r).__name__}: {r}" if isinstance(r, Exception) else str(r.content) for r in results
    ]


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
async def test_four_processes_match_one_process(
    make_logger: Callable[..., ParquetLogger], log_dir: Path, start_method: str
) -> None:
    """processes=4 gives processes=1's results in row order; each row is logged exactly once."""
    logger = make_logger(event_types=["chat_model_start", "llm_end", "llm_error"])
    prompts = [f"fail {i}" if i % 9 == 4 else f"question {i}" * (1 + i % 3) for i in range(30)]
    one = await batch_run(frame(prompts), ScriptedChat(), max_concurrency=3, **QUIET)
    four = await batch_run(
        frame(prompts, logger),
        ScriptedChat(),
        max_concurrency=3,
        processes=4,
        mp_context=start_method,
        **QUIET,
    )
    assert outcomes(four) == outcomes(one)
    assert "ValueError: bad row: fail 4" in outcomes(four)
    logger.flush()
    rows = read_rows(log_dir)
    assert set(rows["custom_id"]) == {f"row-{i}" for i in range(30)}
    events = rows.groupby("custom_id")["event_type"].apply(sorted).map(tuple)
    failed = {f"row-{i}" for i in range(30) if i % 9 == 4}
    for custom_id, kinds in events.items():
        end = "llm_error" if custom_id in failed else "llm_end"
        assert kinds == tuple(sorted(("chat_model_start", end))), custom_id


async def test_crashed_worker_fails_only_its_rows(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A worker that dies fails its own rows with WorkerCrashedError; the others succeed."""
    logger = make_logger()
    prompts = [f"crash {i}" if i == 4 else f"ok {i}" for i in range(6)]
    started = time.monotonic()
    results = await batch_run(frame(prompts, logger), CrashingChat(), processes=2, **QUIET)
    assert time.monotonic() - started < 20
    assert results is not None
    assert shard_bounds(6, 2) == [(0, 3), (3, 6)]
    assert [r.content for r in results[:3]] == ["echo: ok 0", "echo: ok 1", "echo: ok 2"]
    for result in results[3:]:
        assert isinstance(result, WorkerCrashedError)
        assert "worker 1" in str(result)
        assert "rows 3-5" in str(result)
        assert "code 3" in str(result)
    logger.flush()
    ended = read_rows(log_dir).query("event_type == 'llm_end'")
    assert {"row-0", "row-1", "row-2"} <= set(ended["custom_id"])


async def test_crashed_worker_raises_when_not_returning_exceptions() -> None:
    """With return_exceptions=False a crashed worker's error is raised, not waited on."""
    prompts = ["ok 0", "crash 1", "slow 2", "ok 3"]
    started = time.monotonic()
    with pytest.raises(WorkerCrashedError, match="rows 0-1"):
        await batch_run(
            frame(prompts),
            CrashingChat(),
            processes=2,
            mp_context="fork",
            return_exceptions=False,
            **QUIET,
        )
    assert time.monotonic() - started < 20  # the hanging row of the other worker was stopped


async def test_one_progress_bar_in_the_parent(capsys: pytest.CaptureFixture[str]) -> None:
    """The parent's bar counts the rows the workers finish, failures included."""
    prompts = ["ok 0", "fail 1", "ok 2", "ok 3"]
    await batch_run(frame(prompts), ScriptedChat(), processes=2, mp_context="fork")
    err = capsys.readouterr().err
    assert "4/4" in err
    assert "failed=1" in err


async def test_batch_process_builds_the_model_in_each_worker(tmp_path: Path) -> None:
    """batch_process(llm_class=..., processes=2) logs every row into one job folder."""
    prompts = [f"question {i}" for i in range(8)]
    job_dir = tmp_path / "multi" / "default" / "vunversioned"
    try:
        results = await batch_process(
            frame(prompts),
            llm_class=ScriptedChat,
            job_category="multi",
            output_dir=tmp_path,
            processes=2,
            return_results=False,
            flush_interval_s=0.2,
            **QUIET,
        )
    finally:
        stop_writer(job_dir)
    assert results is None
    rows = read_rows(job_dir)
    assert sorted(rows.query("event_type == 'llm_end'")["custom_id"]) == sorted(
        f"row-{i}" for i in range(8)
    )


@pytest.mark.parametrize(
    ("processes", "error"),
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError),
     (None, TypeError)],
)  # fmt: skip
async def test_bad_processes_is_rejected(processes: Any, error: type, tmp_path: Path) -> None:
    """processes must be an integer >= 1, in batch_run and in batch_process: another type
    is a TypeError, an integer below 1 a ValueError."""
    with pytest.raises(error, match="processes"):
        await batch_run(frame(["a"]), ScriptedChat(), processes=processes, **QUIET)
    with pytest.raises(error, match="processes"):
        await batch_process(
            frame(["a"]), ScriptedChat(), output_dir=tmp_path, processes=processes, **QUIET
        )
    assert not any(tmp_path.iterdir())  # failed before any logger started


async def test_unpicklable_llm_is_a_type_error_naming_the_way_out() -> None:
    """An llm that does not pickle fails before any worker starts, pointing at llm_class."""
    llm = RunnableLambda(lambda prompt: prompt)
    with pytest.raises(TypeError, match=r"llm: .*cannot be pickled.*llm_class=.*llm_kwargs="):
        await batch_run(frame(["a", "b"]), llm, processes=2, **QUIET)


async def test_bad_mp_context_names_it() -> None:
    """An unknown start method is a ValueError naming mp_context."""
    with pytest.raises(ValueError, match="mp_context"):
        await batch_run(
            frame(["a", "b"]), ScriptedChat(), processes=2, mp_context="teleport", **QUIET
        )
