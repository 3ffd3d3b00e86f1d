"""The flush barrier: ask the writer to commit the ring up to a position, and wait for it.

Used by a producer's `flush()` (up to the end of its own last record) and by
`parquet-logger-daemon flush` (up to the head). The writer publishes its progress only through
ring header words (committed, upload settled), so waiting is polling them with a growing pause,
bounded by a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from parquet_logger.transport.protocol import drain_command
from parquet_logger.transport.ring import Ring, RingLock
from parquet_logger.transport.statedir import StateDir

FIRST_PAUSE_S = 0.0005
MAX_PAUSE_S = 0.02


@dataclass(frozen=True)
class FlushBarrier:
    """One bounded wait for the writer of `state`.

    Args:
        state: the log directory's state folder (named in the timeout message).
        whose: whose events the wait is for, in the message ("logged by this process").
        writer_alive: whether a writer holds the lock, for the timeout message.
        timeout_s: the bound of the whole wait.
        deadline: `time.monotonic()` at which it gives up.
    """

    state: StateDir
    whose: str
    writer_alive: Callable[[], bool]
    timeout_s: float
    deadline: float

    @classmethod
    def start(
        cls, state: StateDir, whose: str, writer_alive: Callable[[], bool], timeout_s: float
    ) -> FlushBarrier:
        """A barrier whose deadline is `timeout_s` from now."""
        return cls(state, whose, writer_alive, timeout_s, time.monotonic() + timeout_s)

    def commit(
        self, ring: Ring, lock: RingLock, target: int, until: Callable[[], bool] | None = None
    ) -> bool:
        """Ask the writer to write out everything up to ring position `target`, and return
        once those records are in durable Parquet files, or once `until()` holds (False).

        Raises:
            TimeoutError: the writer did not get there before the deadline.
        """
        if ring.committed >= target:
            return True
        # Bounded too: a producer stopped while holding the ring lock must not hang flush().
        ring.request_flush(lock, max(0.0, self.deadline - time.monotonic()))
        return self.wait(lambda: ring.committed, target, "in Parquet", ring, until)

    def wait(
        self,
        progress: Callable[[], int],
        target: int,
        what: str,
        ring: Ring | None = None,
        until: Callable[[], bool] | None = None,
    ) -> bool:
        """Return True once `progress()` (a ring header word) reaches `target`, False once
        `until()` holds first (the caller's reason to look again, e.g. the ring removed).

        Raises:
            TimeoutError: neither before the deadline; the message says how far it is,
                and why when the writer published why (`ring`'s writer errno).
        """
        pause = FIRST_PAUSE_S
        while (reached := progress()) < target:
            # The deadline first: a caller that keeps looking again still ends on time.
            if time.monotonic() >= self.deadline:
                problem = ring.writer_problem if ring is not None else ""
                because = f"; its writes fail: {problem}" if problem else ""
                raise TimeoutError(
                    f"parquet-logger: {target - reached} bytes of events {self.whose} are not "
                    f"yet {what} under {self.state.log_dir} after {self.timeout_s} s "
                    f"({self._what_next(because)})"
                )
            if until is not None and until():
                return False
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)
        return True

    def _what_next(self, because: str = "") -> str:
        """Where to look, or what to run: a writer's log only if one was ever started;
        `because`: why its writes fail, as the writer published it in the ring."""
        alive = self.writer_alive()
        if alive or self.state.writer_log.exists():
            return f"writer alive: {alive}{because}; see {self.state.writer_log}"
        # No writer was ever started here (start_writer=False, or it could not be spawned):
        # there is no log to read, the fix is to run one.
        return (
            "no writer is running for this directory and none wrote a log here; write the "
            f"pending events with: {drain_command(self.state.log_dir)} "
            "(parquet-logger-daemon status shows the ring)"
        )
