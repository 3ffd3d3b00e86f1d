"""`BatchOptions`: how the rows of a batch run, shared by `batch_run` and `batch_process`.

Its field defaults are `batch_run`'s keyword defaults (its signature reads them from here);
`batch_process` starts from `JOB_DEFAULTS` (100 rows in flight, as in the package users come
from). Every value is checked at construction: a wrong type is a `TypeError`, a wrong value
a `ValueError`, each naming the keyword.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.context import BaseContext

from parquet_logger.retry_policy import RetryPolicy
from parquet_logger.validation import require_bool, require_int, require_seconds, require_str

__all__ = ["BatchOptions"]


@dataclass(frozen=True)
class BatchOptions:
    """The keywords of `batch_run` that say how rows run (see its docstring for each)."""

    prompt_col: str = "prompt"
    config_col: str | None = "config"
    tools_col: str | None = "tools"
    max_concurrency: int = 10
    show_progress: bool = True
    return_exceptions: bool = True
    return_results: bool = True
    row_timeout: float | None = None
    max_retries: int = 2
    retry_initial_wait_s: float = 0.5
    retry_max_wait_s: float = 30.0
    processes: int = 1
    mp_context: str | BaseContext | None = None

    def __post_init__(self) -> None:
        require_str("prompt_col", self.prompt_col)
        require_str("config_col", self.config_col, optional=True)
        require_str("tools_col", self.tools_col, optional=True)
        require_int("max_concurrency", self.max_concurrency)
        require_bool("show_progress", self.show_progress)
        require_bool("return_exceptions", self.return_exceptions)
        require_bool("return_results", self.return_results)
        require_seconds("row_timeout", self.row_timeout, optional=True)
        require_int("processes", self.processes)
        if self.mp_context is not None and not isinstance(self.mp_context, str | BaseContext):
            raise TypeError(
                f"mp_context must be None, a start method name or a multiprocessing context, "
                f"got {self.mp_context!r}"
            )
        _ = self.retry  # checks max_retries and the waits now, not at the first row

    @property
    def retry(self) -> RetryPolicy:
        """How a row's transient failures are retried."""
        return RetryPolicy(self.max_retries, self.retry_initial_wait_s, self.retry_max_wait_s)
