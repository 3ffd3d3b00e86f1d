"""One streaming pass over a source: the rows a read asks for, as Arrow record batches.

Filters are pushed into pyarrow's scanner (whole `date=` partitions and row groups are
skipped on their statistics), only the columns asked for are read, and a progress bar counts
the bytes of the files done.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from tqdm.auto import tqdm

from parquet_logger.read.source import Source

TimeLike: TypeAlias = datetime | str | pd.Timestamp


@dataclass(frozen=True)
class Filters:
    """Which events a read keeps. `since` is inclusive, `until` exclusive; naive times are UTC.

    Raises:
        TypeError / ValueError: a filter of the wrong type, or `until` not after `since`.
    """

    since: datetime | None = None
    until: datetime | None = None
    event_types: tuple[str, ...] | None = None
    custom_ids: tuple[str, ...] | None = None
    run_ids: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        since: TimeLike | None = None,
        until: TimeLike | None = None,
        event_types: str | Sequence[str] | None = None,
        custom_id: str | Sequence[str] | None = None,
        run_id: str | Sequence[str] | None = None,
    ) -> Filters:
        """Filters from the read functions' keyword arguments (one value or several)."""
        return cls(
            utc(since, "since"),
            utc(until, "until"),
            _strings(event_types, "event_types"),
            _strings(custom_id, "custom_id"),
            _strings(run_id, "run_id"),
        )

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError(f"until ({self.until}) must be after since ({self.since})")

    def expression(self, schema: pa.Schema) -> ds.Expression | None:
        """The filter as a pyarrow expression (None: keep everything)."""
        terms: list[ds.Expression] = []
        ts = pc.field("timestamp")
        if self.since is not None:
            terms.append(ts >= pa.scalar(self.since, pa.timestamp("us", tz="UTC")))
            if "date" in schema.names:  # prunes whole partitions without opening them
                terms.append(pc.field("date") >= self.since.strftime("%Y-%m-%d"))
        if self.until is not None:
            terms.append(ts < pa.scalar(self.until, pa.timestamp("us", tz="UTC")))
            if "date" in schema.names:
                last_day = self.until - timedelta(microseconds=1)
                terms.append(pc.field("date") <= last_day.strftime("%Y-%m-%d"))
        for name, values in (
            ("event_type", self.event_types),
            ("custom_id", self.custom_ids),
            ("run_id", self.run_ids),
        ):
            if values is not None:
                terms.append(pc.field(name).isin(list(values)))
        if not terms:
            return None
        combined = terms[0]
        for term in terms[1:]:
            combined = combined & term
        return combined


def utc(value: TimeLike | None, name: str) -> datetime | None:
    """A time argument as an aware UTC datetime (naive values are taken as UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime | str):
        raise TypeError(f"{name} must be a datetime or an ISO 8601 string, got {value!r}")
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise ValueError(f"{name} is not a valid time: {value!r}") from exc
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    result: datetime = stamp.to_pydatetime()
    return result


def _strings(value: str | Sequence[str] | None, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    values = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a string or a sequence of strings, got {value!r}")
    return tuple(str(v) for v in values)  # EventType members become their plain values


def scan(
    source: Source,
    columns: Sequence[str],
    filters: Filters,
    *,
    progress: bool = False,
    batch_rows: int = 65_536,
) -> pa.RecordBatchReader:
    """The source's rows that pass `filters`, `columns` only (those the source lacks are
    nulls of the frozen schema's type), streamed batch by batch.

    Args:
        progress: show a tqdm bar of the bytes of files scanned (on stderr).
        batch_rows: the largest batch handed on (bounds the memory of one step).
    """
    dataset = source.dataset()
    present = [c for c in columns if c in dataset.schema.names]
    missing = [c for c in columns if c not in dataset.schema.names]
    # Little readahead: a read's memory stays a few batches of payloads, whatever the source.
    scanner = dataset.scanner(
        columns=present,
        filter=filters.expression(dataset.schema),
        batch_size=batch_rows,
        batch_readahead=2,
        fragment_readahead=1,
    )
    out_schema = pa.schema(
        [dataset.schema.field(c) if c in present else pa.field(c, pa.string()) for c in columns]
    )
    sizes = {info.path: info.size or 0 for info in source.files}
    bar = tqdm(
        total=source.total_bytes,
        unit="B",
        unit_scale=True,
        desc=f"scanning {len(source.files):,} files",
        disable=not progress,
        leave=False,
    )
    return pa.RecordBatchReader.from_batches(
        out_schema, _batches(scanner, out_schema, missing, sizes, bar)
    )


def _batches(
    scanner: ds.Scanner,
    schema: pa.Schema,
    missing: list[str],
    sizes: dict[str, int],
    bar: tqdm,
) -> Iterator[pa.RecordBatch]:
    seen: set[str] = set()
    try:
        for tagged in scanner.scan_batches():
            path = tagged.fragment.path
            if path not in seen:  # fragments stream in order: a new one ends the last
                seen.add(path)
                bar.update(sizes.get(path, 0))
            batch = tagged.record_batch
            if batch.num_rows == 0:
                continue
            for name in missing:
                batch = batch.append_column(name, pa.nulls(batch.num_rows, pa.string()))
            yield batch.select(schema.names)
    finally:
        bar.close()
