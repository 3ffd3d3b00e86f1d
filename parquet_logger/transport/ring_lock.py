"""The producers' lock around a ring put: a thread lock plus `flock` on the ring lock file.

A producer killed while holding it must not block the others: the kernel releases an `flock`
when the last descriptor of its open file description closes, which a SIGKILL does. (A
`multiprocessing.Lock` or POSIX semaphore would stay held.) A producer that is stopped while
holding it (SIGSTOP, a debugger, a cgroup freezer) keeps it: so every wait for it is bounded.

Why the lock spans the copy of the body and not only a reservation of space (issue #12
item 1 asked): records are published in order by one store of `head`, so a producer stopped
between reserving and publishing would leave a hole that every later record waits behind.
The writer, and through a filling ring every producer, would stall on it instead, and
skipping the hole would need per-frame ready flags and a timeout after which records are
given up. The CRC is computed before the lock is taken, so the lock covers only the copy;
the bounded wait above is what keeps one stopped producer from stalling the rest.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from parquet_logger.transport.lock_holder import describe_holders
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
        self.blocked_by: str | None = None  # who held the lock when an acquire gave up

    def reopen(self) -> None:
        """Called in a forked child: fresh thread lock, own file description."""
        self._thread_lock = threading.Lock()
        old, self._fd = self._fd, open_private(self._path)
        os.close(old)

    def acquire(self, timeout_s: float = -1.0) -> bool:
        """Take the lock; wait at most `timeout_s` (forever if negative).

        Returns False when it could not be had in time: another process holds it (a stopped
        or very slow producer); `blocked_by` then says which and in what state.
        """
        if timeout_s < 0:
            self._thread_lock.acquire()
        elif not self._thread_lock.acquire(timeout=timeout_s):
            self.blocked_by = "another thread of this process"
            return False
        try:
            if timeout_s < 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                return True
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the common case: free
                return True
            except BlockingIOError:
                pass
            if self._poll(time.monotonic() + timeout_s):
                return True
            self.blocked_by = describe_holders(self._fd)
        except BaseException:
            self._thread_lock.release()
            raise
        self._thread_lock.release()
        return False

    def _poll(self, deadline: float) -> bool:
        # flock has no timeout: poll, yielding first (a holder copies for microseconds),
        # then backing off to a millisecond.
        pause = 0.0
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(max(pause * 2, 0.00002), 0.001)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                continue
        return False

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        os.close(self._fd)
