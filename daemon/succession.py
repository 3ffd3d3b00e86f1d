"""When the writer leaves a ring that was removed from under it for the ring now at its path.

A /dev/shm cleaner or systemd-logind's `RemoveIPC=yes` may unlink the ring while the writer
serves it. Producers that attach afterwards create a new ring at the path; producers already
attached keep putting into the old mapping until their watchdog (every
`supervisor.WATCHDOG_PERIOD_S`) sees the path name another file and moves them over. So the
writer goes on serving the removed ring until no record has reached it for `QUIET_S` and
everything in it is committed, and only then serves the ring at the path: nothing put into the
old ring by a producer whose watchdog runs is stranded, and the two rings never share an
exporter (one commit journal entry at a time, files of one ring each). A record put into the
old ring after the switch, or into a ring removed before the writer served it, is moved by
its producer (the ring is then an orphan: `parquet_logger.transport.ring_salvage`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from parquet_logger.transport.supervisor import WATCHDOG_PERIOD_S

# Longer than several producer watchdog periods: a producer on the old mapping has moved by
# then unless its watchdog thread did not run at all for that long.
QUIET_S = max(1.5, 3 * WATCHDOG_PERIOD_S)


class Move(enum.Enum):
    STAY = "stay"  # serve the removed ring on
    WRITE_OUT = "write out"  # no new record since the last look: commit what it holds
    SWITCH = "switch"  # quiet and committed for QUIET_S: serve the ring at the path


@dataclass(frozen=True)
class Retiring:
    """A removed ring's last observed head, and since when it has not moved."""

    head: int
    quiet_since: float

    def decide(self, head: int, committed: int, now: float) -> tuple[Retiring, Move]:
        """The next state and move, from the removed ring's `head` and `committed` at `now`."""
        if head != self.head:
            return Retiring(head, now), Move.STAY
        if committed < head:
            return self, Move.WRITE_OUT
        if now - self.quiet_since >= QUIET_S:
            return self, Move.SWITCH
        return self, Move.STAY
