"""`RetrievalOptions`: how a background-retrieval run fetches, follows and reports responses,
checked at construction (a wrong type is a `TypeError`, a wrong value a `ValueError`, each
naming the keyword); and how the seed's `RetrievalConfig`/`ColumnConfig` map onto it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from parquet_logger.retry_policy import RetryPolicy
from parquet_logger.validation import require_bool, require_int, require_seconds

__all__ = ["RetrievalOptions", "with_seed_configs"]

# RetrievalConfig field of langchain-callback-parquet-logger -> our keyword.
_SEED_RETRIEVAL_FIELDS = {
    "batch_size": "batch_size",
    "max_retries": "max_retries",
    "timeout": "timeout",
    "show_progress": "show_progress",
    "return_results": "return_results",
    "checkpoint_file": "checkpoint_file",
    "poll_interval": "poll_interval_s",
}
_SEED_COLUMN_FIELDS = {"response_id": "response_id_col", "custom_id": "custom_id_col"}


@dataclass(frozen=True)
class RetrievalOptions:
    """The keywords of `retrieve_background_responses` that say how it runs (see there)."""

    response_id_col: Any = "response_id"  # any pandas column label
    custom_id_col: Any = "custom_id"
    batch_size: int = 50
    max_retries: int = 3
    timeout: float = 30.0
    show_progress: bool = True
    checkpoint_file: str | os.PathLike[str] | None = None
    return_results: bool = True
    poll_interval_s: float = 5.0
    max_wait_s: float = 900.0
    retry_initial_wait_s: float = 0.5
    retry_max_wait_s: float = 30.0
    max_active_responses: int | None = None

    def __post_init__(self) -> None:
        require_int("batch_size", self.batch_size)
        require_int("max_active_responses", self.max_active_responses, optional=True)
        require_seconds("timeout", self.timeout)
        require_seconds("poll_interval_s", self.poll_interval_s, allow_zero=True)
        require_seconds("max_wait_s", self.max_wait_s)
        require_bool("show_progress", self.show_progress)
        require_bool("return_results", self.return_results)
        _ = self.retry  # checks max_retries and the retry waits

    @property
    def retry(self) -> RetryPolicy:
        """How one request's transient failures are retried."""
        return RetryPolicy(self.max_retries, self.retry_initial_wait_s, self.retry_max_wait_s)

    @property
    def active(self) -> int:
        """How many responses are followed at once (sleeping pollers hold no request slot)."""
        return self.max_active_responses or 4 * self.batch_size


def with_seed_configs(
    options: RetrievalOptions, retrieval_config: Any, column_config: Any
) -> RetrievalOptions:
    """`options` with the fields of langchain-callback-parquet-logger's `RetrievalConfig` and
    `ColumnConfig` (read by name; they override the matching keywords)."""
    changes: dict[str, Any] = {}
    rc = retrieval_config
    if rc is not None:
        for theirs, ours in _SEED_RETRIEVAL_FIELDS.items():
            if hasattr(rc, theirs):
                changes[ours] = getattr(rc, theirs)
        attempts, interval = getattr(rc, "max_poll_attempts", None), changes.get("poll_interval_s")
        if (
            isinstance(attempts, int)
            and isinstance(interval, int | float)
            and attempts * interval > 0
        ):
            changes["max_wait_s"] = float(attempts * interval)  # its polls, as a time budget
    if column_config is not None:
        for theirs, ours in _SEED_COLUMN_FIELDS.items():
            if getattr(column_config, theirs, None):
                changes[ours] = getattr(column_config, theirs)
    return replace(options, **changes)
