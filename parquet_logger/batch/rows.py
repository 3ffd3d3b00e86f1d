"""The rows of one process: a fixed set of worker coroutines share one row iterator, so at
most `max_concurrency` rows are in flight and memory follows that number, not the number of
rows (only the results list, when asked for, grows with the DataFrame)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
from langchain_core.callbacks import BaseCallbackHandler

from parquet_logger.batch.options import BatchOptions
from parquet_logger.batch.row_call import RowCall, bind_tools, row_config
from parquet_logger.errors import RowTimeoutError
from parquet_logger.progress import ProgressSink
from parquet_logger.retry_policy import RetryPolicy

__all__ = ["RowResults", "RowSpec", "iter_rows", "run_all", "run_row"]


class RowResults(Protocol):
    """Where `run_all` puts each row's outcome: a list, or a Ray chunk's reports."""

    def __setitem__(self, offset: int, outcome: Any, /) -> None: ...


@dataclass(frozen=True)
class RowSpec:
    """Which DataFrame columns feed a row's call, and how a row is run (pickled to workers)."""

    prompt_col: str
    config_col: str | None
    tools_col: str | None
    row_timeout: float | None
    retry: RetryPolicy
    callbacks: tuple[BaseCallbackHandler, ...] = ()

    @classmethod
    def for_frame(
        cls, options: BatchOptions, df: pd.DataFrame, callbacks: tuple[BaseCallbackHandler, ...]
    ) -> RowSpec:
        """The spec for `df`: an optional column it does not have is not read."""
        return cls(
            prompt_col=options.prompt_col,
            config_col=options.config_col if options.config_col in df.columns else None,
            tools_col=options.tools_col if options.tools_col in df.columns else None,
            row_timeout=options.row_timeout,
            retry=options.retry,
            callbacks=callbacks,
        )


async def run_all(
    df: pd.DataFrame,
    llm: Any,
    spec: RowSpec,
    max_concurrency: int,
    return_exceptions: bool,
    results: RowResults | None,
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
    runnable, kwargs = bind_tools(llm, tools)
    call = RowCall(runnable, prompt, row_config(config, spec.callbacks, index), kwargs, spec.retry)
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
