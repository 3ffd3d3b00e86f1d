"""Many worker processes, of every start method, logging into one directory through one
writer: exactly once, per-process flush barriers, few files, real LangChain runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger
from tests.scenarios import producers
from tests.scenarios.processes import Workers
from tests.support import read_rows

pytestmark = pytest.mark.slow

WORKERS = 8
RUNS_PER_WORKER = 2_500  # two events (llm_start, llm_end) per run: 5,000 events per worker
MAX_FILES = 20
JOIN_TIMEOUT_S = 60.0


def test_workers_log_exactly_once_into_few_files(
    workers: Workers, make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """8 workers x 5,000 events, each flushing before it returns: every event is on disk
    exactly once, and the one writer batches all producers into a few files."""
    logger = make_logger()
    go = workers.ctx.Barrier(WORKERS)
    started = [
        workers.start(producers.log_llm_runs, logger, f"w{i}", RUNS_PER_WORKER, go)
        for i in range(WORKERS)
    ]

    exit_codes = workers.join(started, JOIN_TIMEOUT_S)

    assert list(exit_codes.values()) == [0] * WORKERS, exit_codes
    # Every worker flushed before it returned: its events are durable without a parent flush.
    rows = read_rows(log_dir)
    events = WORKERS * RUNS_PER_WORKER * 2
    assert len(rows) == events
    assert rows["event_id"].is_unique
    assert rows.groupby("pid").size().to_dict() == dict.fromkeys(exit_codes, 2 * RUNS_PER_WORKER)
    assert set(zip(rows["custom_id"], rows["event_type"], strict=True)) == {
        (f"w{w}:{i}", event_type)
        for w in range(WORKERS)
        for i in range(RUNS_PER_WORKER)
        for event_type in ("llm_start", "llm_end")
    }
    files = list(log_dir.rglob("*.parquet"))
    assert len(files) <= MAX_FILES, f"{len(files)} files for {events} events"


CHAT_WORKERS = 2
CHAT_CALLS_PER_WORKER = 200


@pytest.mark.parametrize("workers", ["spawn"], indirect=True)
def test_chat_model_batch_in_spawned_workers(
    workers: Workers, make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """`FakeListChatModel.batch` (8 threads) in 2 spawned workers: every call's custom id is
    on both its chat_model_start and its llm_end row, which share a run id."""
    logger = make_logger()
    started = [
        workers.start(producers.run_chat_batch, logger, f"w{i}", CHAT_CALLS_PER_WORKER)
        for i in range(CHAT_WORKERS)
    ]

    exit_codes = workers.join(started, JOIN_TIMEOUT_S)

    assert list(exit_codes.values()) == [0] * CHAT_WORKERS, exit_codes
    rows = read_rows(log_dir)
    expected_ids = {f"w{w}-{i}" for w in range(CHAT_WORKERS) for i in range(CHAT_CALLS_PER_WORKER)}
    assert set(rows["custom_id"]) == expected_ids
    assert set(rows["pid"]) == set(exit_codes)
    for event_type in ("chat_model_start", "llm_end"):
        of_type = rows[rows["event_type"] == event_type]
        assert sorted(of_type["custom_id"]) == sorted(expected_ids), event_type
    runs = rows.groupby("custom_id").agg(
        run_ids=("run_id", "nunique"), pids=("pid", "nunique"), events=("event_type", "size")
    )
    assert runs.drop_duplicates().to_dict("records") == [{"run_ids": 1, "pids": 1, "events": 2}]
