"""Logging inside Ray Data's `map_batches`: `LLMBatch`, a callable class that owns a model and
a logger on its node's log directory and runs each batch's rows as `batch_run` does (rows in
flight, timeouts, logged retries), flushing before it returns the batch.

    import ray
    from parquet_logger import ParquetLogger
    from parquet_logger.ray_data import LLMBatch, NodeLogger

    logger = NodeLogger.of(ParquetLogger("/tmp/llm_logs"))  # the same path on every node
    ds = ray.data.from_pandas(df).map_batches(
        LLMBatch,
        fn_constructor_kwargs={"llm_factory": make_llm, "logger": logger},
        batch_size=64, concurrency=2, batch_format="pandas",
    )

A class of your own does the same with `NodeLogger.get()` in `__init__` and
`logger.flush()` at the end of `__call__`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pandas as pd

from parquet_logger.batch.options import BatchOptions
from parquet_logger.batch.rows import RowSpec, run_all
from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.capture.tagging import with_tags
from parquet_logger.node_loggers import NodeLogger

__all__ = ["LLMBatch", "NodeLogger"]

_CONFIG_COL = "__parquet_logger_config"  # the rows' run configs, never in the output


class LLMBatch:
    """A Ray Data callable class: each row's `prompt_col` through the model, the answer in
    `output_col` and a failure (`"<type>: <message>"`) in `error_col`, every event logged.

    Args:
        llm_factory: a picklable callable that builds the model (called once per actor).
        logger: where to log: a `NodeLogger` (its directory on each node), or a
            ParquetLogger (its own `log_dir`, the same path on every node).
        prompt_col: the column holding each row's input.
        custom_id_col: a column whose values become the rows' `custom_id`; None: no id.
        output_col: the column for each row's answer (the message's text; None if failed).
        error_col: the column for each row's failure; None if it succeeded.
        max_concurrency, row_timeout, max_retries, retry_initial_wait_s, retry_max_wait_s:
            as for `batch_run`, per batch.
        flush_timeout_s: the longest a batch waits for its events to be durable (and
            uploaded, with S3) before it is returned.

    Raises:
        TypeError, ValueError: an argument is invalid (the message names it).
    """

    def __init__(
        self,
        llm_factory: Callable[[], Any],
        logger: NodeLogger | ParquetLogger,
        *,
        prompt_col: str = "prompt",
        custom_id_col: str | None = None,
        output_col: str = "response",
        error_col: str = "error",
        max_concurrency: int = 8,
        row_timeout: float | None = None,
        max_retries: int = 2,
        retry_initial_wait_s: float = 0.5,
        retry_max_wait_s: float = 30.0,
        flush_timeout_s: float = 60.0,
    ) -> None:
        if not callable(llm_factory):
            raise TypeError(f"llm_factory must be callable, got {type(llm_factory).__name__}")
        if isinstance(logger, NodeLogger):
            self.logger = logger.get()
        elif isinstance(logger, ParquetLogger):
            self.logger = logger
        else:
            raise TypeError(
                f"logger must be a NodeLogger or a ParquetLogger, got {type(logger).__name__}"
            )
        self._options = BatchOptions(
            prompt_col=prompt_col,
            config_col=_CONFIG_COL,
            tools_col=None,
            max_concurrency=max_concurrency,
            show_progress=False,
            row_timeout=row_timeout,
            max_retries=max_retries,
            retry_initial_wait_s=retry_initial_wait_s,
            retry_max_wait_s=retry_max_wait_s,
        )
        self._custom_id_col = custom_id_col
        self._output_col = output_col
        self._error_col = error_col
        self._flush_timeout_s = flush_timeout_s
        self.llm = llm_factory()

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The batch with `output_col` and `error_col` added; its events flushed first."""
        rows = pd.DataFrame({self._options.prompt_col: batch[self._options.prompt_col]})
        ids = batch[self._custom_id_col] if self._custom_id_col is not None else None
        rows[_CONFIG_COL] = [
            with_tags(custom_id=str(ids.iloc[i])) if ids is not None else None
            for i in range(len(batch))
        ]
        spec = RowSpec.for_frame(self._options, rows, (self.logger,))
        results: list[Any] = [None] * len(rows)
        asyncio.run(
            run_all(
                rows,
                self.llm,
                spec,
                self._options.max_concurrency,
                True,
                results,
                _Uncounted(),
            )
        )
        # Ray runs no atexit in an actor it kills: the batch's events go to files now.
        self.logger.flush(self._flush_timeout_s)
        out = batch.copy()
        out[self._output_col] = [None if isinstance(r, Exception) else _text(r) for r in results]
        out[self._error_col] = [
            f"{type(r).__name__}: {r}" if isinstance(r, Exception) else None for r in results
        ]
        return out


class _Uncounted:
    """No progress bar inside a Ray Data actor (Ray Data shows its own)."""

    def advance(self, failed: bool) -> None:
        pass


def _text(result: Any) -> str:
    """A message's text content, or the result as text."""
    content = getattr(result, "content", result)
    return content if isinstance(content, str) else str(content)
