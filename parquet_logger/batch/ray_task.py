"""`engine="ray"`, in the Ray worker: one chunk of rows run with the in-process `run_all`
machinery, each finished row reported to the driver as soon as it is done (a streaming
generator task), and the node's loggers flushed before the task returns.

Reports are batched over `REPORT_INTERVAL_S` so that a fast model does not cost one Ray object
per row. A row reported is never reported again: the driver fails only the rows of a lost task
that it has not seen, and Ray never re-runs the task (`max_retries=0`), which would log its
finished rows a second time.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from parquet_logger.batch.rows import RowSpec, run_all
from parquet_logger.node_loggers import flush_node_loggers

log = logging.getLogger("parquet_logger.batch")

__all__ = ["REPORT_INTERVAL_S", "RowReport", "run_chunk"]

REPORT_INTERVAL_S = 0.05  # how long finished rows wait to travel to the driver together

# (the row's offset in its chunk, whether it failed, its result or exception or None)
RowReport = tuple[int, bool, Any]


class ChunkReports:
    """`run_all`'s results list and progress sink in one: each finished row becomes a report
    (run_all stores the outcome, then counts the row)."""

    def __init__(self, keep_results: bool) -> None:
        self._keep = keep_results
        self._last: tuple[int, Any] = (-1, None)
        self._ready: list[RowReport] = []
        self.arrived = asyncio.Event()

    def __setitem__(self, offset: int, outcome: Any) -> None:
        self._last = (offset, outcome)

    def advance(self, failed: bool) -> None:
        offset, outcome = self._last
        if failed:
            outcome = _picklable(outcome)
        self._ready.append((offset, failed, outcome if self._keep else None))
        self.arrived.set()

    def take(self) -> list[RowReport]:
        ready, self._ready = self._ready, []
        self.arrived.clear()
        return ready

    async def wait(self, rows: asyncio.Task[None]) -> None:
        """Until some rows are done (then a little longer, to send them together) or all."""
        arrived = asyncio.ensure_future(self.arrived.wait())
        try:
            await asyncio.wait({arrived, rows}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrived.cancel()
        if not rows.done():
            await asyncio.wait({rows}, timeout=REPORT_INTERVAL_S)


def run_chunk(
    shared: bytes,
    chunk: bytes,
    first_index: int,
    max_concurrency: int,
    return_exceptions: bool,
    return_results: bool,
) -> Iterator[list[RowReport]]:
    """The Ray task: yield the chunk's row reports as rows finish; flush the node's loggers.

    Args:
        shared: `dumps_for_nodes((llm, llm_factory, spec))`, the same for every chunk.
        chunk: `dumps_for_nodes(rows)`, this chunk's rows of the DataFrame.
        first_index: the number of the chunk's first row in the whole batch.
        max_concurrency, return_exceptions, return_results: as for `batch_run`.

    Raises:
        Exception: the first failed row's exception, when `return_exceptions=False`.
    """
    loop = asyncio.new_event_loop()
    rows: asyncio.Task[None] | None = None
    try:
        llm, llm_factory, spec = pickle.loads(shared)
        df: pd.DataFrame = pickle.loads(chunk)
        model = _model(llm, llm_factory)
        reports = ChunkReports(return_results)
        rows = loop.create_task(
            _run(df, model, spec, max_concurrency, return_exceptions, reports, first_index)
        )
        while not rows.done():
            loop.run_until_complete(reports.wait(rows))
            ready = reports.take()
            if ready:
                yield ready
        rows.result()  # the first failure, when return_exceptions=False
    finally:
        # Also on cancellation (ray.cancel raises KeyboardInterrupt here) and GeneratorExit.
        if rows is not None and not rows.done():
            rows.cancel()
            loop.run_until_complete(asyncio.gather(rows, return_exceptions=True))
        loop.close()
        _flush_loggers(first_index)


async def _run(
    df: pd.DataFrame,
    llm: Any,
    spec: RowSpec,
    max_concurrency: int,
    return_exceptions: bool,
    reports: ChunkReports,
    first_index: int,
) -> None:
    await run_all(df, llm, spec, max_concurrency, return_exceptions, reports, reports, first_index)


def _model(llm: Any, llm_factory: Callable[[], Any] | None) -> Any:
    return llm_factory() if llm_factory is not None else llm


def _flush_loggers(first_index: int) -> None:
    """Ray runs no atexit in a worker it kills: the chunk's events go to files now."""
    try:
        flush_node_loggers()
    except Exception:  # the rows' results still go back to the driver
        log.exception("batch chunk from row %d: could not flush its loggers", first_index)


def _picklable(outcome: Any) -> Any:
    """A failed row's exception, or a RuntimeError describing it if it cannot travel."""
    from ray import cloudpickle

    try:
        cloudpickle.dumps(outcome)
        return outcome
    except Exception as exc:
        return RuntimeError(
            f"a {type(outcome).__name__} could not be sent back: {exc}; {outcome!r}"
        )
