"""The exceptions parquet-logger raises to its users, all under one base.

Each also subclasses the builtin it has always been, so `except TimeoutError` (or
`RuntimeError`) written against earlier versions still catches it:

ParquetLoggerError (Exception)
├── S3UploadError           a finished file could not be uploaded (on_failure="error")
├── RingError               (RuntimeError) the ring could not be created or attached
├── EventsLostError         records of this process were in a corrupt span the writer skipped
├── RowTimeoutError         (TimeoutError) a batch row took longer than `row_timeout`
├── WorkerCrashedError      (RuntimeError) a batch worker process died before reporting
│   └── WorkerLostError     a Ray worker or node running batch rows was lost mid-task
├── UnguardedMainError      (RuntimeError) batch workers re-ran a script with no __main__ guard
├── RetrievalAbortedError   background retrieval stopped by an error no response gets past
└── LakeError               the Delta table could not be committed, optimized or vacuumed
    └── CommitterBusyError  another committer holds the table (or committed first): rerun

Bad arguments are not in this tree: they raise the builtin `TypeError` (wrong type) or
`ValueError` (right type, wrong value) through `parquet_logger.validation`.
"""

from __future__ import annotations

from collections import Counter


class ParquetLoggerError(Exception):
    """Base of parquet-logger's own errors."""


class S3UploadError(ParquetLoggerError):
    """A finished Parquet file could not be uploaded to S3; the file stays in the spool."""

    def __init__(self, bucket: str, key: str, cause: str) -> None:
        super().__init__(f"upload of s3://{bucket}/{key} failed: {cause}")
        self.bucket = bucket
        self.key = key
        self.cause = cause


class RingError(ParquetLoggerError, RuntimeError):
    """The ring could not be created or attached (full /dev/shm, foreign owner, bad file)."""


class EventsLostError(ParquetLoggerError):
    """flush(): a corrupt span of a ring was skipped (by the writer, or by a producer moving
    a removed ring's records) among this process's records since its last flush; some of
    them (or of other processes' records there) are lost."""

    def __init__(self, ring_path: object, span: tuple[int, int], log_dir: object) -> None:
        start, end = span
        super().__init__(
            f"the ring {ring_path} was corrupt at positions {start}..{end} ({end - start} "
            "bytes), among the events this process logged since its last flush; they were "
            "skipped, so some of these events are lost (the count: corrupt_frames in "
            f"`parquet-logger-daemon status --dir {log_dir}`, or the warning logged when a "
            "removed ring's events were moved)"
        )
        self.span = span


class RowTimeoutError(ParquetLoggerError, TimeoutError):
    """A row took longer than `row_timeout` (attempts and back-off included)."""


class WorkerCrashedError(ParquetLoggerError, RuntimeError):
    """A worker process died before reporting; every row of its shard fails with this."""


class WorkerLostError(WorkerCrashedError):
    """`engine="ray"`: the Ray worker process (or its whole node) running a chunk of rows died
    before reporting them; each of those rows fails with this (rows it had reported keep
    their results). Ray does not re-run the task: a rerun would log its finished rows twice."""


class UnguardedMainError(ParquetLoggerError, RuntimeError):
    """`batch_run(processes=N)` from a script whose work is not under
    `if __name__ == "__main__":`: each spawned worker re-ran the script and started a batch
    of its own instead of its rows."""


class RetrievalAbortedError(ParquetLoggerError):
    """The job stopped: an error no response can get past (bad key, no permission,
    `insufficient_quota`). Responses not finished stay pending for the next run."""

    def __init__(self, cause: BaseException, counts: Counter[str]) -> None:
        code = getattr(cause, "code", None)
        why = f" by {code}" if isinstance(code, str) and code else ""
        super().__init__(f"background retrieval stopped{why}: {type(cause).__name__}: {cause}")
        self.cause = cause
        self.counts = counts


class LakeError(ParquetLoggerError):
    """A lake command failed; the table is unchanged by this run (Delta commits are atomic)."""


class CommitterBusyError(LakeError):
    """Another committer holds the lock or committed between our snapshot and our commit."""
