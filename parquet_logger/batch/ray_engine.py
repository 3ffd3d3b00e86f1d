"""`batch_run(..., engine="ray")`, in the driver: the rows cut into chunks, each run by a Ray
task (`ray_task.run_chunk`) with `max_concurrency` rows in flight, at most one task per CPU
of the cluster at a time; one progress bar and the results, in row order, in the driver.

Every ParquetLogger in the task's inputs (the batch's callbacks, the rows' configs, the
model) travels as its settings and attaches, in each worker, to its node's log directory
(`ray_log_dir`, default the logger's own `log_dir`; see `node_loggers`). A task whose worker
or node is lost fails the rows it had not reported with `WorkerLostError`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from parquet_logger.batch.options import BatchOptions
from parquet_logger.batch.ray_task import RowReport, run_chunk
from parquet_logger.batch.rows import RowSpec
from parquet_logger.errors import WorkerLostError
from parquet_logger.node_loggers import dumps_for_nodes
from parquet_logger.progress import Progress

log = logging.getLogger("parquet_logger.batch")

__all__ = ["chunk_bounds", "run_on_ray"]

CHUNKS_PER_SLOT = 4  # smaller chunks: a lost worker costs less, slow chunks even out
MAX_CHUNK_ROWS = 2_000  # each chunk ends with a flush: about one Parquet file per chunk
_INSTALL_HINT = 'engine="ray" needs Ray: pip install "parquet-logger[ray]"'
_MODEL_WHAT = (
    "llm (and the callbacks); for a model that does not pickle pass batch_run(llm_factory=...) "
    "or batch_process(llm_class=..., llm_kwargs=...) so that each worker builds its own"
)


def chunk_bounds(rows: int, slots: int, max_concurrency: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) ranges of about `rows / (CHUNKS_PER_SLOT * slots)` rows, but
    at least `2 * max_concurrency` (a chunk keeps its rows in flight busy) and at most
    MAX_CHUNK_ROWS; never an empty one."""
    if rows == 0:
        return []
    per_slot = math.ceil(rows / slots)
    size = max(math.ceil(rows / (CHUNKS_PER_SLOT * slots)), min(2 * max_concurrency, per_slot))
    size = max(1, min(size, MAX_CHUNK_ROWS))
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def import_ray() -> Any:
    """The `ray` module.

    Raises:
        ImportError: Ray is not installed (the message says how to install it).
    """
    try:
        import ray
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return ray


def connect(ray: Any, address: str | None) -> None:
    """Use the Ray this process is connected to, or connect: to `address` (a cluster's
    `host:port`, `ray://...` or "auto"), else where `RAY_ADDRESS` says, else a new local Ray.
    A Ray started here stays up for later batches and ends with the process, as Ray's own
    libraries leave it."""
    if ray.is_initialized():
        if address is not None:
            log.info("batch_run: Ray is already initialised; address=%r not used", address)
        return
    ray.init(address=address)


async def run_on_ray(
    df: pd.DataFrame,
    llm: Any,
    llm_factory: Callable[[], Any] | None,
    spec: RowSpec,
    options: BatchOptions,
    *,
    results: list[Any] | None,
    progress: Progress,
) -> None:
    """Run `df` on Ray, filling `results` (if given) in row order.

    Raises:
        ImportError: Ray is not installed.
        RuntimeError: the cluster has no CPU to run a task on.
        Exception: the first failed row's exception (or a `WorkerLostError`), when
            `return_exceptions=False`.
    """
    ray = import_ray()
    connect(ray, options.address)
    slots = int(ray.cluster_resources().get("CPU", 0))
    if slots < 1:
        raise RuntimeError("engine='ray': the Ray cluster has no CPU to run batch tasks on")
    # Resolved here, as a logger's own log_dir is: a worker's working directory is not ours.
    log_dir = None if options.ray_log_dir is None else os.path.abspath(options.ray_log_dir)
    model = None if llm_factory is not None else llm
    shared = ray.put(_pickled((model, llm_factory, spec), log_dir, _MODEL_WHAT))
    task = ray.remote(run_chunk).options(num_cpus=1, max_retries=0, num_returns="streaming")
    chunks = iter(chunk_bounds(len(df), slots, options.max_concurrency))
    in_flight: set[Any] = set()

    async def run_chunks() -> None:
        # Coroutines interleave only at awaits: next(chunks) runs whole, each chunk once.
        for start, stop in chunks:
            rows = _pickled(df.iloc[start:stop], log_dir, f"rows {start}-{stop - 1}")
            generator = task.remote(
                shared,
                rows,
                start,
                options.max_concurrency,
                options.return_exceptions,
                results is not None,
            )
            in_flight.add(generator)
            try:
                await _collect(ray, generator, start, stop, options, results, progress)
            finally:
                in_flight.discard(generator)

    runners = [asyncio.create_task(run_chunks()) for _ in range(slots)]
    try:
        await asyncio.gather(*runners)
    except BaseException:
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        raise
    finally:
        for generator in list(in_flight):
            ray.cancel(generator)


async def _collect(
    ray: Any,
    generator: Any,
    start: int,
    stop: int,
    options: BatchOptions,
    results: list[Any] | None,
    progress: Progress,
) -> None:
    """Place one chunk's row reports as they arrive; a lost task fails the rows not seen."""
    seen = bytearray(stop - start)
    try:
        async for ref in generator:
            reports: list[RowReport] = await ref
            for offset, failed, outcome in reports:
                seen[offset] = 1
                if results is not None:
                    results[start + offset] = outcome
                progress.advance(failed)
    except ray.exceptions.RayTaskError as exc:
        # Raised by the task's own code: a row's failure (return_exceptions=False), or the
        # model, the rows or their loggers could not be set up in the worker.
        cause = exc.cause if isinstance(exc.cause, Exception) else exc
        raise cause from None
    except ray.exceptions.TaskCancelledError:
        raise asyncio.CancelledError from None
    except ray.exceptions.RayError as exc:
        _fail_unseen(
            WorkerLostError(_lost_message(exc, start, stop, seen)),
            seen,
            start,
            options,
            results,
            progress,
        )


def _pickled(obj: Any, log_dir: str | None, what: str) -> bytes:
    """`dumps_for_nodes(obj)`, or a TypeError saying what could not be sent to the workers.

    Raises:
        TypeError: `obj` does not pickle.
    """
    try:
        return dumps_for_nodes(obj, log_dir)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(
            f"engine='ray': could not send {what} to the Ray workers ({exc}); every config, "
            "tool and callback must pickle"
        ) from exc


def _fail_unseen(
    error: WorkerLostError,
    seen: bytearray,
    start: int,
    options: BatchOptions,
    results: list[Any] | None,
    progress: Progress,
) -> None:
    log.warning("batch_run: %s", error)
    if not options.return_exceptions:
        raise error
    for offset in _unseen(seen):
        if results is not None:
            results[start + offset] = error
        progress.advance(True)


def _unseen(seen: bytearray) -> Iterator[int]:
    return (offset for offset, flag in enumerate(seen) if not flag)


def _lost_message(exc: BaseException, start: int, stop: int, seen: bytearray) -> str:
    missing = len(seen) - sum(seen)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (
        f"the Ray task running rows {start}-{stop - 1} was lost ({type(exc).__name__}: "
        f"{first_line}); {missing} of its rows did not complete (their events may be partly "
        "logged) and are not re-run"
    )
