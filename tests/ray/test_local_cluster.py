"""batch_run(engine="ray") and Ray Data's map_batches on a local Ray (`ray.init(num_cpus=2)`):
processes=N's row semantics, every row logged once through the node's writer, a worker
SIGKILLed mid-task, a writer that outlives the workers."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.ray.conftest import SKIP_REASON

ray = pytest.importorskip("ray", reason=SKIP_REASON)

from parquet_logger import ParquetLogger, WorkerLostError, with_tags
from parquet_logger.batch.run import batch_run
from parquet_logger.errors import RowTimeoutError
from parquet_logger.ray_data import LLMBatch, NodeLogger
from tests.batch_models import ScriptedChat
from tests.ray.conftest import RayRun
from tests.ray.models import KillingChat
from tests.support import read_rows, writer_pid

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

QUIET: dict[str, Any] = {"show_progress": False}
EVENTS = ["chat_model_start", "llm_end", "llm_error", "retry"]


def frame(prompts: list[str]) -> pd.DataFrame:
    configs = [with_tags(custom_id=f"row-{i}") for i in range(len(prompts))]
    return pd.DataFrame({"prompt": prompts, "config": configs})


def outcomes(results: list[Any] | None) -> list[str]:
    assert results is not None
    return [
        f"{type(r).__name__}: {r}" if isinstance(r, Exception) else str(r.content) for r in results
    ]


def logger_on(directory: Path) -> ParquetLogger:
    return ParquetLogger(directory, event_types=EVENTS, flush_interval_s=0.5)


def ends_per_row(rows: pd.DataFrame) -> pd.Series:
    """How many end events (llm_end or llm_error) each custom id has."""
    ends = rows[rows["event_type"].isin(["llm_end", "llm_error"])]
    return ends.groupby("custom_id").size()


async def test_ray_matches_local_and_logs_each_row_once(local_ray: RayRun) -> None:
    """Results in row order equal engine="local"'s (failures, timeouts, retried rows
    included); each row has one end event in the node's directory and retries are logged."""
    logger = logger_on(local_ray.logs / "same")
    prompts = [
        "fail 3" if i == 3 else "slow 5" if i == 5 else "flaky 7" if i == 7 else f"q {i}"
        for i in range(40)
    ]
    common: dict[str, Any] = {
        "max_concurrency": 3,
        "row_timeout": 1.0,
        "retry_initial_wait_s": 0.01,
        "retry_max_wait_s": 0.02,
        **QUIET,
    }
    local = await batch_run(frame(prompts), ScriptedChat(), **common)
    on_ray = await batch_run(
        frame(prompts), ScriptedChat(), callbacks=[logger], engine="ray", **common
    )
    assert outcomes(on_ray) == outcomes(local)
    assert isinstance(on_ray[5], RowTimeoutError)  # type: ignore[index]
    logger.close()
    rows = read_rows(Path(logger.log_dir))
    ends = ends_per_row(rows)
    assert len(ends) == 40
    assert set(ends.drop("row-7")) == {1}
    assert ends["row-7"] == 3
    starts = rows[rows["event_type"] == "chat_model_start"].groupby("custom_id").size()
    assert starts.equals(ends)  # every attempt started once and ended once
    retries = rows[rows["event_type"] == "retry"]
    assert set(retries["custom_id"]) == {"row-7"}
    assert len(retries) == 2


async def test_streaming_without_results_and_first_failure_raised(local_ray: RayRun) -> None:
    """return_results=False returns None with every row logged; return_exceptions=False
    raises the first failed row's own exception in the driver."""
    logger = logger_on(local_ray.logs / "stream")
    prompts = [f"q {i}" for i in range(30)]
    assert (
        await batch_run(
            frame(prompts),
            ScriptedChat(),
            callbacks=[logger],
            engine="ray",
            return_results=False,
            **QUIET,
        )
        is None
    )
    logger.close()
    assert len(ends_per_row(read_rows(Path(logger.log_dir)))) == 30
    with pytest.raises(ValueError, match="bad row: fail 12"):
        await batch_run(
            frame([f"fail {i}" if i == 12 else f"q {i}" for i in range(20)]),
            ScriptedChat(),
            engine="ray",
            return_exceptions=False,
            **QUIET,
        )


async def test_worker_sigkilled_fails_only_its_unreported_rows(local_ray: RayRun) -> None:
    """A worker SIGKILLed mid-task: its unreported rows fail with WorkerLostError, every
    other row has its answer, Ray does not re-run the task (no row started twice), and the
    node's writer, started by a worker but not its child, outlives it and writes every
    finished row's events exactly once."""
    driver_logger = logger_on(local_ray.logs / "driver")
    node_dir = local_ray.logs / "killed"
    # Chunks of 5 rows (40 rows, 2 CPUs, max_concurrency=2): row 9 ends the second chunk.
    prompts = ["kill 9" if i == 9 else f"pid {i}" for i in range(40)]
    results = await batch_run(
        frame(prompts),
        KillingChat(),
        callbacks=[driver_logger],
        engine="ray",
        ray_log_dir=node_dir,
        max_concurrency=2,
        **QUIET,
    )
    assert results is not None
    assert isinstance(results[9], WorkerLostError)
    lost = {i for i, r in enumerate(results) if isinstance(r, WorkerLostError)}
    assert lost <= set(range(5, 10))  # only rows of the killed task
    answered = {i for i, r in enumerate(results) if not isinstance(r, Exception)}
    assert answered == set(range(40)) - lost

    driver_logger.close()
    writer = writer_pid(node_dir)
    assert writer is not None
    assert os.path.exists(f"/proc/{writer}")
    worker_pids = {int(str(results[i].content).split()[1]) for i in answered}
    assert _parent(writer) not in worker_pids  # so Ray's worker cleanup never kills it

    rows = read_rows(node_dir)
    starts = rows[rows["event_type"] == "chat_model_start"].groupby("custom_id").size()
    assert set(starts) == {1}  # no row ran twice
    ends = ends_per_row(rows)
    assert set(ends.index) >= {f"row-{i}" for i in answered}
    assert set(ends) == {1}
    assert not read_rows(Path(driver_logger.log_dir)).shape[0]  # nothing logged in the driver's dir


async def test_bad_llm_factory_raises_its_error(local_ray: RayRun) -> None:
    """An llm_factory that fails in the worker raises its own exception in the driver."""
    with pytest.raises(RuntimeError, match="no model here"):
        await batch_run(
            frame(["q 0", "q 1"]),
            ScriptedChat(),
            llm_factory=_broken_factory,
            engine="ray",
            **QUIET,
        )


def test_ray_data_map_batches_logs_every_row_once(local_ray: RayRun) -> None:
    """LLMBatch in ds.map_batches: answers and failures in the output columns, each row's
    events exactly once in the node's directory, flushed before the batch was returned, the
    two actors logging through the node's one writer."""
    with logger_on(local_ray.logs / "data-driver") as driver_logger:
        logger = NodeLogger.of(driver_logger, local_ray.logs / "data")
    df = pd.DataFrame(
        {
            "prompt": [f"fail {i}" if i % 7 == 3 else f"q {i}" for i in range(50)],
            "id": [f"row-{i}" for i in range(50)],
        }
    )
    out = (
        ray.data.from_pandas([df.iloc[i : i + 10] for i in range(0, 50, 10)])  # 5 blocks
        .map_batches(
            LLMBatch,
            fn_constructor_kwargs={
                "llm_factory": ScriptedChat,
                "logger": logger,
                "custom_id_col": "id",
                "max_concurrency": 4,
            },
            batch_size=10,
            concurrency=2,
            num_cpus=0.5,
            batch_format="pandas",
        )
        .to_pandas()
        .sort_values("id", key=lambda ids: ids.str[4:].astype(int))
    )
    assert [None if pd.isna(v) else v for v in out["response"]] == [
        None if i % 7 == 3 else f"echo: q {i}" for i in range(50)
    ]
    assert list(out["error"].notna()) == [i % 7 == 3 for i in range(50)]
    rows = read_rows(local_ray.logs / "data")  # no flush here: the batches flushed
    ends = ends_per_row(rows)
    assert len(ends) == 50
    assert set(ends) == {1}
    assert rows["pid"].nunique() == 2  # both actors logged...
    files = list((local_ray.logs / "data").rglob("part-*.parquet"))
    assert len({f.name.rsplit("-", 2)[1] for f in files}) == 1  # ...through the node's writer


def _broken_factory() -> Any:
    raise RuntimeError("no model here")


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    raise AssertionError(f"no PPid for {pid}")


async def test_a_model_that_does_not_pickle_is_a_clear_type_error(local_ray: RayRun) -> None:
    """An llm that cannot be sent to the workers: a TypeError pointing to llm_factory."""
    model = ScriptedChat()
    object.__setattr__(model, "lock", threading.Lock())  # a lock does not pickle
    with pytest.raises(TypeError, match="llm_factory"):
        await batch_run(frame(["q 0"]), model, engine="ray", **QUIET)
