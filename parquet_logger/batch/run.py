"""`batch_run`: a DataFrame of prompts through a LangChain runnable, at most `max_concurrency`
rows in flight, with per-row timeouts, logged retries of transient errors, and a progress bar.

The keywords become one `BatchOptions`; `run_batch` runs it in this process (`rows`),
sharded across worker processes (`process_pool`), or in chunks on a Ray cluster
(`ray_engine`, `engine="ray"`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from langchain_core.callbacks import BaseCallbackHandler

from parquet_logger.batch.options import BatchOptions
from parquet_logger.batch.process_pool import run_in_processes
from parquet_logger.batch.ray_engine import run_on_ray
from parquet_logger.batch.rows import RowSpec, run_all
from parquet_logger.errors import RowTimeoutError
from parquet_logger.frame_input import require_column, require_frame
from parquet_logger.progress import Progress

log = logging.getLogger("parquet_logger.batch")

__all__ = ["RowTimeoutError", "batch_run", "check_frame", "run_batch"]

_D = BatchOptions()  # batch_run's defaults


async def batch_run(
    df: pd.DataFrame,
    llm: Any,
    prompt_col: str = _D.prompt_col,
    config_col: str | None = _D.config_col,
    tools_col: str | None = _D.tools_col,
    max_concurrency: int = _D.max_concurrency,
    show_progress: bool = _D.show_progress,
    return_exceptions: bool = _D.return_exceptions,
    return_results: bool = _D.return_results,
    row_timeout: float | None = _D.row_timeout,
    *,
    max_retries: int = _D.max_retries,
    retry_initial_wait_s: float = _D.retry_initial_wait_s,
    retry_max_wait_s: float = _D.retry_max_wait_s,
    callbacks: Sequence[BaseCallbackHandler] | None = None,
    progress_desc: str = "rows",
    processes: int = _D.processes,
    mp_context: Any = _D.mp_context,
    llm_factory: Callable[[], Any] | None = None,
    engine: str = _D.engine,
    address: str | None = _D.address,
    ray_log_dir: str | os.PathLike[str] | None = _D.ray_log_dir,
) -> list[Any] | None:
    """Run `llm.ainvoke(row[prompt_col], config=row[config_col])` for every row of `df`.

    Args:
        df: the rows; only the named columns are read, and `df` is never modified.
        llm: any LangChain runnable with `ainvoke` (a chat model, a chain, ...), or any
            other object with `ainvoke`, called as the package users come from called it:
            `ainvoke(input=prompt, config=config, tools=tools)`, absent ones left out.
        prompt_col: the column holding each row's input (required).
        config_col: the column holding each row's run config, e.g. from
            `with_tags(custom_id=...)`; a missing column or a None value means no config.
        tools_col: the column holding a list of tools to bind for that row (`bind_tools`);
            a missing column or a None value means no tools.
        max_concurrency: the most rows in flight at once.
        show_progress: show a tqdm bar (rows done, failures, rate); `TQDM_DISABLE=1` or a
            missing tqdm silences it.
        return_exceptions: a failed row yields its exception in the results; if False, the
            first failure cancels the rows in flight and is raised.
        return_results: if False, nothing is kept per row (memory bounded by
            `max_concurrency`, whatever the size of `df`) and None is returned.
        row_timeout: seconds one row may take, retries and back-off included; a row that
            takes longer fails with `RowTimeoutError`.
        max_retries: retries of a transient error (429, 5xx, timeouts, connection errors),
            each logged as a `retry` event by every ParquetLogger in the row's callbacks.
        retry_initial_wait_s: the first back-off (doubling per retry, with full jitter).
        retry_max_wait_s: the longest back-off.
        callbacks: handlers (e.g. a ParquetLogger) added to every row's run config, so that
            they see every child run.
        progress_desc: the progress bar's label.
        processes: worker processes to shard the rows across (contiguous ranges, each run
            with `max_concurrency` rows in flight); `llm`, the configs, tools and callbacks
            are pickled to them (a ParquetLogger re-attaches to its directory in the worker).
            A worker that dies fails its rows with `WorkerCrashedError`.
        mp_context: the start method ("spawn", the default, "fork", "forkserver") or a
            multiprocessing context, for `processes > 1`.
        llm_factory: for `processes > 1` or `engine="ray"`, a picklable callable each worker
            calls to build its model instead of unpickling `llm` (for models that do not
            pickle).
        engine: "local" (this machine: one process, or `processes`) or "ray": the rows in
            chunks of Ray tasks, one task per CPU of the cluster at a time, each with
            `max_concurrency` rows in flight; results, progress, timeouts and retries as
            with processes. Every ParquetLogger (in `callbacks`, the configs or the model)
            logs on each node to `ray_log_dir` through the node's own writer, and each task
            flushes before it returns. A lost worker or node fails the rows its task had not
            finished with `WorkerLostError`; Ray never re-runs a task. Needs
            `pip install "parquet-logger[ray]"`.
        address: with engine="ray", the cluster to connect to ("auto", "host:port",
            "ray://host:port"); None: the Ray this process is connected to, else
            `$RAY_ADDRESS`, else a new local Ray (which stays up until the process exits).
        ray_log_dir: with engine="ray", each node's log directory; None: each logger's own
            `log_dir` (the same path on every node). `{node_id}` in it becomes the Ray
            node's id (several nodes sharing one disk).

    Returns:
        One result (or exception) per row in row order, or None when `return_results=False`.

    Raises:
        TypeError: an argument of the wrong type (the message names it), or an `llm` that
            cannot be pickled for `processes > 1`.
        ValueError: an argument with a wrong value, e.g. a missing `prompt_col`.
        Exception: the first failed row's exception, when `return_exceptions=False`.
    """
    require_frame(df)
    options = BatchOptions(
        prompt_col=prompt_col,
        config_col=config_col,
        tools_col=tools_col,
        max_concurrency=max_concurrency,
        show_progress=show_progress,
        return_exceptions=return_exceptions,
        return_results=return_results,
        row_timeout=row_timeout,
        max_retries=max_retries,
        retry_initial_wait_s=retry_initial_wait_s,
        retry_max_wait_s=retry_max_wait_s,
        processes=processes,
        mp_context=mp_context,
        engine=engine,
        address=address,
        ray_log_dir=ray_log_dir,
    )
    return await run_batch(
        df,
        llm,
        options,
        callbacks=callbacks,
        progress_desc=progress_desc,
        llm_factory=llm_factory,
    )


async def run_batch(
    df: pd.DataFrame,
    llm: Any,
    options: BatchOptions,
    *,
    callbacks: Sequence[BaseCallbackHandler] | None = None,
    progress_desc: str = "rows",
    llm_factory: Callable[[], Any] | None = None,
) -> list[Any] | None:
    """`batch_run` with its options already gathered (what `batch_process` calls)."""
    check_frame(df, llm, options)
    spec = RowSpec.for_frame(options, df, _check_callbacks(callbacks))
    total = len(df)
    results: list[Any] | None = [None] * total if options.return_results else None
    progress = Progress(total, options.show_progress, progress_desc)
    started = time.monotonic()
    try:
        if options.engine == "ray":
            await run_on_ray(
                df, llm, llm_factory, spec, options, results=results, progress=progress
            )
        elif options.processes == 1:
            await run_all(
                df,
                llm,
                spec,
                options.max_concurrency,
                options.return_exceptions,
                results,
                progress,
            )
        else:
            await run_in_processes(
                df, llm, llm_factory, spec, options, results=results, progress=progress
            )
    finally:
        progress.close()
    log.info(
        "batch_run: %d row(s), %d failed, in %.1f s",
        total,
        progress.failed,
        time.monotonic() - started,
    )
    return results


def check_frame(df: object, llm: object, options: BatchOptions) -> None:
    """Fail fast on a `df` or `llm` that cannot run with `options`."""
    require_frame(df)
    assert isinstance(df, pd.DataFrame)
    if not callable(getattr(llm, "ainvoke", None)):
        raise TypeError(
            f"llm must be a LangChain runnable with ainvoke(), got {type(llm).__name__}"
        )
    require_column(df, "prompt_col", options.prompt_col)


def _check_callbacks(callbacks: object) -> tuple[BaseCallbackHandler, ...]:
    if callbacks is None:
        return ()
    if not isinstance(callbacks, list | tuple) or not all(
        isinstance(h, BaseCallbackHandler) for h in callbacks
    ):
        raise TypeError("callbacks must be a list of LangChain callback handlers")
    return tuple(callbacks)
