"""`batch_run`: a DataFrame of prompts through a LangChain runnable, at most `max_concurrency`
rows in flight, with per-row timeouts, logged retries of transient errors, and a progress bar.

Rows are streamed (`itertuples`) to a fixed set of worker coroutines that share one iterator,
so memory follows `max_concurrency`, not the number of rows; only the results list (when asked
for) grows with the DataFrame. `processes=N` hands contiguous shards to `batch_workers`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID, uuid4

import pandas as pd
from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.language_models import BaseLanguageModel
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.errors import RowTimeoutError
from parquet_logger.retry_policy import RetryPolicy, is_transient

try:  # run ids that sort by time, like LangChain's own (langchain-core >= 1.0)
    from langchain_core.utils.uuid import uuid7 as _uuid7

    _new_run_id: Callable[[], UUID] = _uuid7
except ImportError:  # pragma: no cover - older langchain-core
    _new_run_id = uuid4

log = logging.getLogger("parquet_logger.batch")

__all__ = ["RowTimeoutError", "batch_run"]


@dataclass(frozen=True)
class RowSpec:
    """Which DataFrame columns feed a row's call, and how a row is run."""

    prompt_col: str
    config_col: str | None
    tools_col: str | None
    row_timeout: float | None
    retry: RetryPolicy
    callbacks: tuple[BaseCallbackHandler, ...] = ()


async def batch_run(
    df: pd.DataFrame,
    llm: Any,
    prompt_col: str = "prompt",
    config_col: str | None = "config",
    tools_col: str | None = "tools",
    max_concurrency: int = 10,
    show_progress: bool = True,
    return_exceptions: bool = True,
    return_results: bool = True,
    row_timeout: float | None = None,
    *,
    max_retries: int = 2,
    retry_initial_wait_s: float = 0.5,
    retry_max_wait_s: float = 30.0,
    callbacks: Sequence[BaseCallbackHandler] | None = None,
    progress_desc: str = "rows",
    processes: int = 1,
    mp_context: Any = None,
    llm_factory: Callable[[], Any] | None = None,
) -> list[Any] | None:
    """Run `llm.ainvoke(row[prompt_col], config=row[config_col])` for every row of `df`.

    Args:
        df: the rows; only the named columns are read, and `df` is never modified.
        llm: any LangChain runnable with `ainvoke` (a chat model, a chain, ...).
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
        llm_factory: for `processes > 1`, a picklable callable each worker calls to build
            its model instead of unpickling `llm` (for models that do not pickle).

    Returns:
        One result (or exception) per row in row order, or None when `return_results=False`.

    Raises:
        ValueError, TypeError: a bad argument (the message names it), e.g. a missing
            `prompt_col`, or an `llm` that cannot be pickled for `processes > 1`.
        Exception: the first failed row's exception, when `return_exceptions=False`.
    """
    # Imported here: batch_workers imports this module (and spawned workers import it first).
    from parquet_logger.batch.processes import check_processes, run_in_processes

    check_frame(df, llm, prompt_col, config_col, tools_col)
    check_options(max_concurrency, row_timeout, return_exceptions, return_results)
    check_processes(processes, mp_context)
    spec = RowSpec(
        prompt_col=prompt_col,
        config_col=config_col if config_col in df.columns else None,
        tools_col=tools_col if tools_col in df.columns else None,
        row_timeout=row_timeout,
        retry=RetryPolicy(max_retries, retry_initial_wait_s, retry_max_wait_s),
        callbacks=_check_callbacks(callbacks),
    )
    total = len(df)
    results: list[Any] | None = [None] * total if return_results else None
    progress = Progress(total, show_progress, progress_desc)
    started = time.monotonic()
    try:
        if processes == 1:
            await run_all(df, llm, spec, max_concurrency, return_exceptions, results, progress)
        else:
            await run_in_processes(
                df,
                llm,
                llm_factory,
                spec,
                processes=processes,
                mp_context=mp_context,
                max_concurrency=max_concurrency,
                return_exceptions=return_exceptions,
                results=results,
                progress=progress,
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


class ProgressSink(Protocol):
    """Where finished rows are counted: a `Progress` bar, or a worker's shared counters."""

    def advance(self, failed: bool) -> None: ...


async def run_all(
    df: pd.DataFrame,
    llm: Any,
    spec: RowSpec,
    max_concurrency: int,
    return_exceptions: bool,
    results: list[Any] | None,
    progress: ProgressSink,
    first_index: int = 0,
) -> None:
    """Drive `max_concurrency` workers over one shared row iterator until it is exhausted.

    `first_index` is the number of the first row of `df` in the whole batch (for messages);
    `results[i]` receives the outcome of `df`'s i-th row.
    """
    rows = enumerate(iter_rows(df, spec))

    async def worker() -> None:
        # Workers interleave only at awaits: next(rows) runs whole, so each row is taken once.
        for offset, (prompt, config, tools) in rows:
            try:
                outcome = await run_row(llm, spec, first_index + offset, prompt, config, tools)
                failed = False
            except Exception as exc:
                if not return_exceptions:
                    raise
                outcome, failed = exc, True
            if results is not None:
                results[offset] = outcome
            progress.advance(failed)

    workers = [asyncio.create_task(worker()) for _ in range(min(max_concurrency, len(df)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        # The first failure (or our own cancellation) stops the others before we return.
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise


def iter_rows(df: pd.DataFrame, spec: RowSpec) -> Iterator[tuple[Any, Any, Any]]:
    """Yield (prompt, config, tools) per row, reading only the columns in use."""
    present = [c for c in (spec.prompt_col, spec.config_col, spec.tools_col) if c is not None]
    config_at = present.index(spec.config_col) if spec.config_col is not None else None
    tools_at = present.index(spec.tools_col) if spec.tools_col is not None else None
    for values in df[present].itertuples(index=False, name=None):
        config = values[config_at] if config_at is not None else None
        tools = values[tools_at] if tools_at is not None else None
        yield values[0], config, tools


async def run_row(llm: Any, spec: RowSpec, index: int, prompt: Any, config: Any, tools: Any) -> Any:
    """One row: bind its tools, merge its config, retry transient errors, bound its time."""
    runnable, kwargs = _bind_tools(llm, tools)
    row_config = _row_config(config, spec.callbacks, index)
    call = RowCall(runnable, prompt, row_config, kwargs, spec.retry)
    if spec.row_timeout is None:
        return await call.run()
    try:
        async with asyncio.timeout(spec.row_timeout) as deadline:
            return await call.run()
    except TimeoutError:
        if not deadline.expired():
            raise
        error = RowTimeoutError(f"row {index} timed out after {spec.row_timeout} s (row_timeout)")
        call.log_timeout(error)
        raise error from None


class RowCall:
    """The attempts of one row; each attempt gets a fresh run id, and each retry is logged
    against the run id of the attempt that failed."""

    def __init__(
        self,
        runnable: Any,
        prompt: Any,
        config: dict[str, Any] | None,
        kwargs: dict[str, Any],
        retry: RetryPolicy,
    ) -> None:
        self._runnable = runnable
        self._prompt = prompt
        self._config = config
        self._kwargs = kwargs
        self._retry = retry
        self._run_id: Any = None

    async def run(self) -> Any:
        if self._retry.max_retries == 0:
            return await self._attempt()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.max_retries + 1),
            wait=self._retry.wait_s,
            retry=retry_if_exception(is_transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return await retrying(self._attempt)

    async def _attempt(self) -> Any:
        config = dict(self._config or {})
        # A caller's run_id names the first attempt only: run ids must stay unique.
        if self._run_id is not None or config.get("run_id") is None:
            config["run_id"] = _new_run_id()
        self._run_id = config["run_id"]
        return await self._runnable.ainvoke(self._prompt, config=config, **self._kwargs)

    def _log_retry(self, retry_state: RetryCallState) -> None:
        config = self._config or {}
        tags = list(config.get("tags") or [])
        for logger in parquet_loggers(config.get("callbacks")):
            logger.on_retry(retry_state, run_id=self._run_id, parent_run_id=None, tags=tags)

    def log_timeout(self, error: RowTimeoutError) -> None:
        """End the cancelled attempt's run in the logs: LangChain fires no error event for a
        run cancelled by a timeout, which would leave its start event without an end."""
        if self._run_id is None:
            return
        config = self._config or {}
        tags = list(config.get("tags") or [])
        model = isinstance(getattr(self._runnable, "bound", self._runnable), BaseLanguageModel)
        for logger in parquet_loggers(config.get("callbacks")):
            end = logger.on_llm_error if model else logger.on_chain_error
            end(error, run_id=self._run_id, parent_run_id=None, tags=tags)


def parquet_loggers(callbacks: Any) -> list[ParquetLogger]:
    """The ParquetLoggers among a config's callbacks (a list of handlers or a manager)."""
    if isinstance(callbacks, BaseCallbackManager):
        handlers: Sequence[Any] = callbacks.handlers
    elif isinstance(callbacks, list | tuple):
        handlers = callbacks
    else:
        return []
    unique = {id(h): h for h in handlers if isinstance(h, ParquetLogger)}
    return list(unique.values())


def _row_config(
    config: Any, extra: tuple[BaseCallbackHandler, ...], index: int
) -> dict[str, Any] | None:
    """The row's config with the batch's callbacks added; the caller's dict is not modified."""
    if _missing(config):
        config = None
    elif not isinstance(config, Mapping):
        raise TypeError(
            f"row {index}: the config column must hold a dict (a LangChain run config), "
            f"got {type(config).__name__}"
        )
    if not extra:
        return dict(config) if config is not None else None
    merged = dict(config or {})
    own = merged.get("callbacks")
    if isinstance(own, BaseCallbackManager):
        manager = own.copy()
        for handler in extra:
            manager.add_handler(handler, inherit=True)
        merged["callbacks"] = manager
    else:
        handlers = list(own or [])
        merged["callbacks"] = handlers + [h for h in extra if all(h is not x for x in handlers)]
    return merged


def _bind_tools(llm: Any, tools: Any) -> tuple[Any, dict[str, Any]]:
    """The runnable to call for a row with `tools`, and extra ainvoke kwargs.

    Models without `bind_tools` get `tools=` as a call argument, as the package users come
    from did.
    """
    if _missing(tools) or not isinstance(tools, list | tuple) or not tools:
        return llm, {}
    bind = getattr(llm, "bind_tools", None)
    if bind is not None:
        try:
            return bind(list(tools)), {}
        except NotImplementedError:
            pass
    return llm, {"tools": list(tools)}


def _missing(value: Any) -> bool:
    """None, or a pandas missing value (NaN) in a column that has gaps."""
    return value is None or (isinstance(value, float) and math.isnan(value))


class Progress:
    """A tqdm.auto bar (notebook widget or terminal bar) of rows done and failed; silent when
    disabled, when `TQDM_DISABLE` is set, or when tqdm is not installed."""

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self.failed = 0
        self._bar: Any = None
        if not enabled or _env_disabled():
            return
        try:
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:
            log.info("batch_run: install tqdm for a progress bar")
            return
        self._bar = tqdm(total=total, desc=desc, unit="row", dynamic_ncols=True)

    def advance(self, failed: bool) -> None:
        if failed:
            self.failed += 1
        if self._bar is None:
            return
        if failed:
            self._bar.set_postfix(failed=self.failed, refresh=False)
        self._bar.update(1)

    def advance_to(self, done: int, failed: int) -> None:
        """Move the bar to totals counted elsewhere (the worker processes)."""
        self.failed = failed
        if self._bar is None or done == self._bar.n:
            return
        if failed:
            self._bar.set_postfix(failed=failed, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _env_disabled() -> bool:
    value = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def check_frame(
    df: object, llm: object, prompt_col: object, config_col: object, tools_col: object
) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if not callable(getattr(llm, "ainvoke", None)):
        raise TypeError(
            f"llm must be a LangChain runnable with ainvoke(), got {type(llm).__name__}"
        )
    for name, value, optional in (
        ("prompt_col", prompt_col, False),
        ("config_col", config_col, True),
        ("tools_col", tools_col, True),
    ):
        if not isinstance(value, str) and not (optional and value is None):
            raise TypeError(f"{name} must be a column name (str), got {value!r}")
    if prompt_col not in df.columns:
        raise ValueError(
            f"prompt_col: the DataFrame has no column {prompt_col!r}; "
            f"columns present: {list(df.columns)}"
        )


def check_options(
    max_concurrency: object, row_timeout: object, return_exceptions: object, return_results: object
) -> None:
    if (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or max_concurrency < 1
    ):
        raise ValueError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}")
    if row_timeout is not None:
        if isinstance(row_timeout, bool) or not isinstance(row_timeout, int | float):
            raise TypeError(f"row_timeout must be None or seconds, got {row_timeout!r}")
        if not math.isfinite(row_timeout) or row_timeout <= 0:
            raise ValueError(f"row_timeout must be a positive number of seconds, got {row_timeout}")
    for name, flag in (
        ("return_exceptions", return_exceptions),
        ("return_results", return_results),
    ):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")


def _check_callbacks(callbacks: object) -> tuple[BaseCallbackHandler, ...]:
    if callbacks is None:
        return ()
    if not isinstance(callbacks, list | tuple) or not all(
        isinstance(h, BaseCallbackHandler) for h in callbacks
    ):
        raise TypeError("callbacks must be a list of LangChain callback handlers")
    return tuple(callbacks)
