"""The producers' lock around a ring put: a thread lock plus `flock` on the ring lock file.

A producer killed while holding it must not block the others: the kernel releases an `flock`
when the last descriptor of its open file description closes, which a SIGKILL does. (A
`multiprocessing.Lock` or POSIX semaphore would stay held.)
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from parquet_logger.transport.statedir import open_private


class RingLock:
    """The producers' mutual exclusion: a thread lock plus `flock` on the ring lock file.

    flock locks belong to an open file description, so each process must open the file
    itself: after fork, `reopen()` replaces the descriptor inherited from the parent.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread_lock = threading.Lock()
        self._fd = open_private(path)

    def reopen(self) -> None:
        """Called in a forked child: fresh thread lock, own file description."""
        self._thread_lock = threading.Lock()
        old, self._fd = self._fd, open_private(self._path)
        os.close(old)

    def acquire(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        os.close(self._fd)
