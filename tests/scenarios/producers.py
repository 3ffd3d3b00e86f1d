"""Producer programs that the scenarios run in worker processes (fork, spawn or forkserver).

Kept apart from the test modules so that a spawned child imports only these few names (no
pytest, pandas or pyarrow). Each one raises on a problem, which gives the worker exit code 1.
"""

from __future__ import annotations

import itertools
from typing import Any
from uuid import uuid4

from langchain_core.outputs import Generation, LLMResult

from parquet_logger import ParquetLogger, with_tags
from parquet_logger.capture.tagging import CUSTOM_ID_PREFIX

SERIALIZED = {"lc": 1, "type": "not_implemented", "id": ["tests", "FakeLLM"], "name": "FakeLLM"}
START_TIMEOUT_S = 60.0
FLUSH_TIMEOUT_S = 60.0


def log_llm_start(logger: ParquetLogger, custom_id: str) -> None:
    """One `llm_start` event tagged with `custom_id`."""
    tags = [f"{CUSTOM_ID_PREFIX}{custom_id}"]
    logger.on_llm_start(SERIALIZED, ["ping"], run_id=uuid4(), tags=tags)


def log_llm_run(logger: ParquetLogger, custom_id: str) -> None:
    """One LLM run: an `llm_start` and an `llm_end` event, both tagged with `custom_id`."""
    run_id, tags = uuid4(), [f"{CUSTOM_ID_PREFIX}{custom_id}"]
    logger.on_llm_start(SERIALIZED, [f"question {custom_id}"], run_id=run_id, tags=tags)
    result = LLMResult(generations=[[Generation(text=f"answer {custom_id}")]])
    logger.on_llm_end(result, run_id=run_id, tags=tags)


def check_nothing_lost(logger: ParquetLogger) -> None:
    """Raise if this process's logger dropped an event or a callback failed."""
    stats = logger.stats()
    if stats["dropped_events"] or stats["callback_failures"]:
        raise AssertionError(f"events lost in this worker: {stats}")


def log_llm_runs(logger: ParquetLogger, worker: str, runs: int, go: Any) -> None:
    """Log `runs` LLM runs as `worker` once every worker is ready, then flush."""
    go.wait(START_TIMEOUT_S)
    for i in range(runs):
        log_llm_run(logger, f"{worker}:{i}")
    logger.flush(FLUSH_TIMEOUT_S)
    check_nothing_lost(logger)


def log_until_killed(
    logger: ParquetLogger, returned: Any, reached: Any, threshold: int, go: Any
) -> None:
    """Log events numbered 0, 1, 2, ... until killed; `returned.value` is always the number
    of callbacks that have returned, and `reached` is set once that passes `threshold`."""
    go.wait(START_TIMEOUT_S)
    for i in itertools.count():
        log_llm_start(logger, str(i))
        returned.value = i + 1  # one aligned 8-byte store: never torn by SIGKILL
        if i + 1 == threshold:
            reached.set()


def log_until_stopped(
    logger: ParquetLogger, worker: str, logged: Any, stop: Any, after_stop: int, go: Any
) -> None:
    """Log events until `stop` is set, then `after_stop` more; flush; `logged.value` is the
    number logged."""
    go.wait(START_TIMEOUT_S)
    count = 0
    while not stop.is_set():
        for _ in range(100):
            log_llm_start(logger, f"{worker}:{count}")
            count += 1
    for _ in range(after_stop):
        log_llm_start(logger, f"{worker}:{count}")
        count += 1
    logged.value = count
    logger.flush(FLUSH_TIMEOUT_S)
    check_nothing_lost(logger)


def run_chat_batch(logger: ParquetLogger, worker: str, calls: int) -> None:
    """Run a fake chat model over `calls` prompts with `batch` (8 threads), each call tagged
    with its own custom id `<worker>-<i>`."""
    # Imported here: it takes a second, which every other worker would pay for nothing.
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    model = FakeListChatModel(responses=[f"answer {i}" for i in range(calls)])
    configs = [
        {**with_tags(custom_id=f"{worker}-{i}"), "callbacks": [logger], "max_concurrency": 8}
        for i in range(calls)
    ]
    outputs = model.batch([f"question {i}" for i in range(calls)], config=configs)  # type: ignore[arg-type]
    if len(outputs) != calls:
        raise AssertionError(f"batch returned {len(outputs)} outputs for {calls} calls")
    logger.flush(FLUSH_TIMEOUT_S)
    check_nothing_lost(logger)
