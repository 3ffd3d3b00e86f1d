"""The responses an input DataFrame names, as `ResponseRef`s: unique, non-empty ids, with the
keys that join their events to the LLM call that created them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pandas as pd

from parquet_logger.frame_input import is_missing, require_column, require_frame

__all__ = ["ResponseRef", "response_refs"]

# The seed's logs and its retrieval input name the custom-id column `logger_custom_id`; a frame
# of that shape is taken as it is when the default column name (`custom_id`) is not there.
_DEFAULT_CUSTOM_COL = "custom_id"
_SEED_CUSTOM_COL = "logger_custom_id"


@dataclass(frozen=True)
class ResponseRef:
    """One response to fetch, and what joins its events to the call that created it."""

    index: int
    response_id: str
    custom_id: str
    run_id: UUID | None
    parent_run_id: UUID | None


def response_refs(df: Any, id_col: Any, custom_col: Any) -> list[ResponseRef]:
    """The unique, non-empty ids of `df` (first occurrence wins), with their join keys.

    Raises:
        TypeError: `df` is not a DataFrame.
        ValueError: `df` has no `id_col` column.
    """
    require_frame(df, optional=True)
    assert isinstance(df, pd.DataFrame)
    require_column(df, "response_id_col", id_col)
    n = len(df)
    custom_col = _custom_column(df, custom_col)
    customs = df[custom_col].tolist() if custom_col is not None else [""] * n
    runs = df["run_id"].tolist() if "run_id" in df.columns else [None] * n
    parents = df["parent_run_id"].tolist() if "parent_run_id" in df.columns else [None] * n
    refs: list[ResponseRef] = []
    seen: set[str] = set()
    empty = 0
    for rid, cid, run, parent in zip(df[id_col].tolist(), customs, runs, parents, strict=True):
        if is_missing(rid) or not str(rid):
            empty += 1
            continue
        if str(rid) in seen:
            continue
        seen.add(str(rid))
        custom = "" if is_missing(cid) else str(cid)
        refs.append(ResponseRef(len(refs), str(rid), custom, _uuid(run), _uuid(parent)))
    if empty:
        warnings.warn(f"{empty} row(s) with an empty {id_col!r} were skipped", stacklevel=3)
    return refs


def _custom_column(df: pd.DataFrame, custom_col: Any) -> Any:
    """The column the custom ids come from, or None (with a warning) if there is none."""
    if custom_col in df.columns:
        return custom_col
    if custom_col == _DEFAULT_CUSTOM_COL and _SEED_CUSTOM_COL in df.columns:
        return _SEED_CUSTOM_COL
    warnings.warn(
        f"custom_id_col: the DataFrame has no column {custom_col!r}; custom ids are left empty",
        stacklevel=4,
    )
    return None


def _uuid(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    if is_missing(value) or not value:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None
