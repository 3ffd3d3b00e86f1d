"""The logged events themselves, filtered and in time order."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from parquet_logger.read.frames import to_pandas
from parquet_logger.read.scan import Filters, TimeLike, scan
from parquet_logger.read.source import SourceLike, open_source
from parquet_logger.read.sql import connect


def events(
    source: SourceLike,
    *,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
    event_types: str | Sequence[str] | None = None,
    custom_id: str | Sequence[str] | None = None,
    run_id: str | Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    payload: bool = True,
    limit: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """The events of a source, oldest first (ties in event id order).

    Args:
        source: a log directory, an `s3://bucket/prefix`, or an opened `Source`.
        since, until: keep events in [since, until) (UTC; naive times are UTC).
        event_types: keep these event types only (strings or `EventType` members).
        custom_id, run_id: keep these custom ids / run ids only.
        columns: the columns to return (default: every column, hive keys included).
        payload: include the `payload` JSON column (the largest by far).
        limit: return at most this many events (the oldest).
        progress: show a progress bar while the source is scanned.

    Returns:
        A DataFrame; integer columns are nullable (`Int64`), `timestamp` is UTC.
    """
    src = open_source(source)
    filters = Filters.of(since, until, event_types, custom_id, run_id)
    names = list(columns) if columns is not None else src.schema().names
    if not payload:
        names = [n for n in names if n != "payload"]
    con = connect()
    con.register("scanned", scan(src, names, filters, progress=progress))
    order = ", ".join(n for n in ("timestamp", "event_id") if n in names)
    sql = "SELECT * FROM scanned" + (f" ORDER BY {order}" if order else "")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    frame = to_pandas(con.sql(sql).arrow())
    con.close()
    return frame
