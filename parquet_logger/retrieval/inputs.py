"""What a background-retrieval run is asked to do: its options (validated), and the responses
of the input DataFrame as `ResponseRef`s (unique ids, with the keys that join their events to
the LLM call that created them).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pandas as pd

__all__ = ["ResponseRef", "RetrievalOptions", "options_from_configs", "response_refs"]


@dataclass(frozen=True)
class RetrievalOptions:
    """How responses are fetched; validated at construction (see the public function)."""

    batch_size: int = 50
    max_retries: int = 3
    timeout: float = 30.0
    poll_interval_s: float = 5.0
    max_wait_s: float = 900.0
    retry_initial_wait_s: float = 0.5
    retry_max_wait_s: float = 30.0
    max_active_responses: int | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_retries", "max_active_responses"):
            value = getattr(self, name)
            low = 0 if name == "max_retries" else 1
            if value is None and name == "max_active_responses":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name in (
            "timeout",
            "poll_interval_s",
            "max_wait_s",
            "retry_initial_wait_s",
            "retry_max_wait_s",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number of seconds, got {value!r}")
            positive = name in ("timeout", "max_wait_s")
            if not math.isfinite(value) or value < 0 or (positive and value == 0):
                raise ValueError(
                    f"{name} must be a number of seconds {'>' if positive else '>='}"
                    f" 0, got {value!r}"
                )

    @property
    def active(self) -> int:
        """How many responses are followed at once (sleeping pollers hold no request slot)."""
        return self.max_active_responses or 4 * self.batch_size


@dataclass(frozen=True)
class ResponseRef:
    """One response to fetch, and what joins its events to the call that created it."""

    index: int
    response_id: str
    custom_id: str
    run_id: UUID | None
    parent_run_id: UUID | None


def response_refs(df: Any, id_col: str, custom_col: str) -> list[ResponseRef]:
    """The unique, non-empty ids of `df` (first occurrence wins), with their join keys."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame or None, got {type(df).__name__}")
    if id_col not in df.columns:
        raise ValueError(
            f"response_id_col: the DataFrame has no column {id_col!r}; "
            f"columns present: {list(df.columns)}"
        )
    n = len(df)
    if custom_col not in df.columns:
        warnings.warn(
            f"custom_id_col: the DataFrame has no column {custom_col!r}; custom ids are left empty",
            stacklevel=3,
        )
    customs = df[custom_col].tolist() if custom_col in df.columns else [""] * n
    runs = df["run_id"].tolist() if "run_id" in df.columns else [None] * n
    parents = df["parent_run_id"].tolist() if "parent_run_id" in df.columns else [None] * n
    refs: list[ResponseRef] = []
    seen: set[str] = set()
    empty = 0
    for rid, cid, run, parent in zip(df[id_col].tolist(), customs, runs, parents, strict=True):
        if _missing(rid) or not str(rid):
            empty += 1
            continue
        if str(rid) in seen:
            continue
        seen.add(str(rid))
        custom = "" if _missing(cid) else str(cid)
        refs.append(ResponseRef(len(refs), str(rid), custom, _uuid(run), _uuid(parent)))
    if empty:
        warnings.warn(f"{empty} row(s) with an empty {id_col!r} were skipped", stacklevel=3)
    return refs


def options_from_configs(retrieval_config: Any, column_config: Any) -> dict[str, Any]:
    """Keyword values from langchain-callback-parquet-logger's RetrievalConfig/ColumnConfig."""
    out: dict[str, Any] = {}
    rc = retrieval_config
    if rc is not None:
        names = {
            "batch_size": "batch_size",
            "max_retries": "max_retries",
            "timeout": "timeout",
            "show_progress": "show_progress",
            "return_results": "return_results",
            "checkpoint_file": "checkpoint_file",
            "poll_interval": "poll_interval_s",
        }
        out = {ours: getattr(rc, theirs) for theirs, ours in names.items() if hasattr(rc, theirs)}
        attempts, interval = getattr(rc, "max_poll_attempts", None), out.get("poll_interval_s")
        if (
            isinstance(attempts, int)
            and isinstance(interval, int | float)
            and attempts * interval > 0
        ):
            out["max_wait_s"] = float(attempts * interval)  # its polls, as a time budget
    if column_config is not None:
        for theirs, ours in (("response_id", "response_id_col"), ("custom_id", "custom_id_col")):
            if getattr(column_config, theirs, None):
                out[ours] = getattr(column_config, theirs)
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _uuid(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    if _missing(value) or not value:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None
