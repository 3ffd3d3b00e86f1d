"""Reading the input DataFrame of `batch_run`, `batch_process` and background retrieval: the
checks that name the bad parameter, and what counts as an empty cell."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = ["is_missing", "require_column", "require_frame"]


def require_frame(df: object, *, optional: bool = False) -> None:
    """`df` is a pandas DataFrame (or None when `optional`).

    Raises:
        TypeError: anything else.
    """
    if not isinstance(df, pd.DataFrame):
        expected = "a pandas DataFrame" + (" or None" if optional else "")
        raise TypeError(f"df must be {expected}, got {type(df).__name__}")


def require_column(df: pd.DataFrame, param: str, column: object) -> None:
    """`df` has the column named by the `param` argument.

    Raises:
        ValueError: it does not (the message lists the columns present, and keeps the
            words "DataFrame missing required column" that users of the package they come
            from match on).
    """
    if column not in df.columns:
        raise ValueError(
            f"{param}: DataFrame missing required column {column!r}; "
            f"columns present: {list(df.columns)}"
        )


def is_missing(value: Any) -> bool:
    """None, or a pandas missing value (NaN) in a column that has gaps."""
    return value is None or (isinstance(value, float) and math.isnan(value))
