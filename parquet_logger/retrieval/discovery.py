"""Which background responses a log directory still owes: queued (or attempted) by a batch
run, with no final retrieval event yet. Reads only the columns it needs, file by file.

A response is pending when some `background_retrieval_*` event names it in
`payload.data.response_id` and none of `background_retrieval_complete` or a final
`background_retrieval_error` (one without `"retryable": true`) does. Works for every layout
(`date=`, `event_type=`, both, flat, or a mix): a file under `event_type=X/` is skipped
without being opened unless X is one of these events.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd

from parquet_logger.retrieval.events import FINAL_EVENTS, RETRIEVAL_EVENTS, is_final

__all__ = ["find_finished_ids", "find_pending_responses", "open_log_dataset"]

_COLUMNS = ("event_type", "custom_id", "run_id", "parent_run_id", "payload")
_BATCH_ROWS = 4096


@dataclass
class _Seen:
    custom_id: str = ""
    run_id: str = ""
    parent_run_id: str = ""


def open_log_dataset(source: str | os.PathLike[str], filesystem: Any = None) -> Any:
    """A hive-partitioned `pyarrow.dataset` of a log directory: a local path, an `s3://`
    URI (pyarrow's S3FileSystem, default credentials), or a path on `filesystem`."""
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    path = os.fspath(source)
    if filesystem is None and path.startswith("s3://"):
        filesystem, path = pafs.FileSystem.from_uri(path)
    return ds.dataset(path, format="parquet", partitioning="hive", filesystem=filesystem)


def find_pending_responses(source: str | os.PathLike[str], filesystem: Any = None) -> pd.DataFrame:
    """The responses of a log directory that have no final retrieval event yet.

    Args:
        source: the log directory (local path or `s3://bucket/prefix`).
        filesystem: a `pyarrow.fs.FileSystem` that `source` is a path on (default: local, or
            S3 for an `s3://` URI).

    Returns:
        One row per pending response, in first-seen order: `response_id`, `custom_id`,
        `run_id`, `parent_run_id` (from the events that named it; `""` when unknown).

    Raises:
        FileNotFoundError: `source` does not exist.
    """
    seen: dict[str, _Seen] = {}
    finished: set[str] = set()
    for event_type, response_id, row, data in _retrieval_rows(source, filesystem):
        if is_final(event_type, data):
            finished.add(response_id)
        known = seen.setdefault(response_id, _Seen())
        for field in ("custom_id", "run_id", "parent_run_id"):
            if not getattr(known, field) and row.get(field):
                setattr(known, field, row[field])
    pending = [(rid, s) for rid, s in seen.items() if rid not in finished]
    return pd.DataFrame(
        {
            "response_id": [rid for rid, _ in pending],
            "custom_id": [s.custom_id for _, s in pending],
            "run_id": [s.run_id for _, s in pending],
            "parent_run_id": [s.parent_run_id for _, s in pending],
        },
        dtype=object,
    )


def find_finished_ids(
    source: str | os.PathLike[str], response_ids: Collection[str], filesystem: Any = None
) -> dict[str, str]:
    """The ids among `response_ids` that have a final retrieval event in the log, each with
    the status that event recorded (`completed`, `failed`, ...)."""
    wanted = set(response_ids)
    found: dict[str, str] = {}
    if not wanted:
        return found
    for event_type, response_id, _, data in _retrieval_rows(source, filesystem, final=True):
        if response_id in wanted and is_final(event_type, data):
            status = data.get("status")
            found[response_id] = status if isinstance(status, str) and status else "failed"
    return found


def _retrieval_rows(
    source: str | os.PathLike[str], filesystem: Any, final: bool = False
) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(event_type, response_id, row, payload data) of every retrieval event naming an id."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    wanted = FINAL_EVENTS if final else RETRIEVAL_EVENTS
    for fragment in open_log_dataset(source, filesystem).get_fragments():
        keys = ds.get_partition_keys(fragment.partition_expression)
        if "event_type" in keys and keys["event_type"] not in wanted:
            continue  # a partition of other events: not even opened
        names = fragment.physical_schema.names
        columns = [c for c in _COLUMNS if c in names]
        flt = pc.field("event_type").isin(list(wanted)) if "event_type" in names else None
        batches = fragment.to_batches(
            schema=fragment.physical_schema, columns=columns, filter=flt, batch_size=_BATCH_ROWS
        )
        for batch in batches:
            for row in batch.to_pylist():
                event_type = row.get("event_type") or keys.get("event_type", "")
                data = _payload_data(row.get("payload"))
                response_id = data.get("response_id")
                if isinstance(response_id, str) and response_id:
                    yield event_type, response_id, row, data


def _payload_data(payload: Any) -> dict[str, Any]:
    try:
        data = orjson.loads(payload).get("data")
    except (orjson.JSONDecodeError, TypeError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}
