"""One committer per table.

Two committers that list the same new files would each register them: by default delta-rs
rebases an append that lost the race onto the winner's version (blind appends never
conflict), and the log then adds those files twice (tried with deltalake 1.6.6). Two
guards keep it to one:

1. A local table: `flock` on `<dir>/_parquet_logger/lake.lock`, held for the whole run; the
   kernel releases it when the holder dies, even by SIGKILL, so it never goes stale.
2. Any table (the only guard on S3, which has no lock that a killed holder gives back):
   the commit is made with `max_commit_retries=0`. The log entry is written put-if-absent
   (a rename that refuses to replace locally, a conditional PUT with `If-None-Match` on S3),
   so a committer whose version was taken meanwhile fails, registers nothing, and exits
   with EXIT_BUSY; its rerun lists and diffs again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from parquet_logger.errors import CommitterBusyError, LakeError
from parquet_logger.transport.statedir import STATE_FOLDER

from .source import LakeSource

LOCK_NAME = "lake.lock"


@contextlib.contextmanager
def committer_lock(source: LakeSource) -> Iterator[None]:
    """Hold the table's committer lock (a local table) for the duration of the block.

    Raises:
        CommitterBusyError: another process holds it.
        LakeError: the local directory does not exist.
    """
    if source.is_s3:
        yield  # guarded by the put-if-absent commit alone (see the module docstring)
        return
    if not os.path.isdir(source.location):
        raise LakeError(f"no directory {source.location}")
    folder = Path(source.location) / STATE_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommitterBusyError(
                f"another committer holds {path}; one commit at a time per table"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock
