"""`BatchOptions`: how the rows of a batch run, shared by `batch_run` and `batch_process`.

Its field defaults are `batch_run`'s keyword defaults (its signature reads them from here);
`batch_process` starts from `JOB_DEFAULTS` (100 rows in flight, as in the package users come
from). Every value is checked at construction: a wrong type is a `TypeError`, a wrong value
a `ValueError`, each naming the keyword.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from multiprocessing.context import BaseContext

from parquet_logger.retry_policy import RetryPolicy
from parquet_logger.validation import (
    require_bool,
    require_choice,
    require_int,
    require_seconds,
    require_str,
)

__all__ = ["ENGINES", "BatchOptions"]

ENGINES = ("local", "ray")  # this machine (processes=N), or a Ray cluster


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
    engine: str = "local"
    address: str | None = None
    ray_log_dir: str | os.PathLike[str] | None = None

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
        self._check_engine()

    def _check_engine(self) -> None:
        require_choice("engine", self.engine, ENGINES)
        require_str("address", self.address, allow_empty=False, optional=True)
        if self.ray_log_dir is not None and not isinstance(self.ray_log_dir, str | os.PathLike):
            raise TypeError(
                f"ray_log_dir must be a str, a path or None, got {self.ray_log_dir!r} "
                f"({type(self.ray_log_dir).__name__})"
            )
        if self.engine == "ray":
            if self.processes != 1:
                raise ValueError(
                    f"processes={self.processes} is for engine='local'; with engine='ray' "
                    "the rows run in as many Ray tasks at once as the cluster has CPUs"
                )
            return
        for name in ("address", "ray_log_dir"):
            if getattr(self, name) is not None:
                raise ValueError(f"{name} is for engine='ray', got engine={self.engine!r}")

    @property
    def retry(self) -> RetryPolicy:
        """How a row's transient failures are retried."""
        return RetryPolicy(self.max_retries, self.retry_initial_wait_s, self.retry_max_wait_s)
