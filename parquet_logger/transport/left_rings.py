"""The rings a process left because they were removed from under it, kept until every record
it put there is written.

A removed ring's records are written by the writer that still serves it (`succession`), or,
if it is an orphan that no writer serves (`ring_salvage`), moved into the ring at the path by
one of the producers that left it: this process, or another, whose move the orphan's salvage
words record (then this process's flush waits for that ring up to there). Every ring left is
kept, not just the first: the ring is removed again and again when a cleaner runs often.

Only the attachment's watchdog and its flush call these methods, one at a time (the
attachment's move lock); the hot path only reads the attachment's current ring.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parquet_logger.transport.ring import Ring, RingLock
from parquet_logger.transport.ring_frames import Span

log = logging.getLogger("parquet_logger")

# How long a ring left stays mapped once its records are written: a thread that read the
# attachment's ring just before the move may put into the old one a moment later.
LEFT_RING_GRACE_S = 2.0
ORPHAN_RECHECK_S = 0.05  # a flush retries moving an orphan's records this often


@dataclass
class LeftRing:
    ring: Ring
    left_at: float  # time.monotonic()
    credited_until: int = 0  # the orphan's salvaged_until last counted as owed to this process


@dataclass(frozen=True)
class Wait:
    """What a flush waits for next: `ring` committed up to `target`, or `revisit()`."""

    ring: Ring
    target: int
    revisit: Callable[[], bool]


class LeftRings:
    """The rings one attachment left, and what it is owed in other rings by salvages."""

    def __init__(self) -> None:
        self._left: list[LeftRing] = []
        # Records moved for this process into a ring (by itself or by another producer):
        # that ring's position up to which its flush waits, beyond its own puts there.
        self._owed: dict[Ring, int] = {}
        # Spans skipped as corrupt among this process's records in rings let go of since
        # the last flush, which reports them (`lost_span`).
        self._lost: list[tuple[Path, Span]] = []

    def add(self, ring: Ring) -> None:
        self._left.append(LeftRing(ring, time.monotonic()))

    def target(self, ring: Ring) -> int:
        """Where this process's records in `ring` end: its own puts, and moves for it."""
        return max(ring.last_put_end, self._owed.get(ring, 0))

    def settle(self, current: Ring, lock: RingLock, lock_wait_s: float) -> None:
        """Move orphans' records into `current`, count moves made for this process, and let
        go of rings whose records are all written and whose grace has passed."""
        now = time.monotonic()
        for left in list(self._left):
            ring = left.ring
            if ring.committed < ring.head and ring.orphaned():
                moved = ring.salvage_into(current, lock, lock_wait_s)
                if moved is not None:
                    log.warning(
                        "parquet-logger: moved %d events from the removed ring %s, which no "
                        "writer serves, into the ring at that path",
                        moved.records,
                        ring.path,
                    )
            if ring.committed < self.target(ring):
                continue
            self._credit_salvage(left, current)
            if now - left.left_at >= LEFT_RING_GRACE_S:
                # Not closed: a late put may still hold it; unmapped with its last reference.
                self._left.remove(left)
                span = ring.skipped_among_puts(self.target(ring))
                if span is not None:
                    self._lost.append((ring.path, span))
                self._owed.pop(ring, None)
        for ring, owed in list(self._owed.items()):
            if ring is current and ring.committed >= owed:
                del self._owed[ring]

    def _credit_salvage(self, left: LeftRing, current: Ring) -> None:
        """A ring whose records are all committed may have had them moved by another
        producer: this process's flush then waits for the ring they were moved into (if it
        never mapped that one, for everything in its current ring now)."""
        until = left.ring.salvaged_until
        if left.ring.salvaged_into == 0 or until == left.credited_until:
            return
        left.credited_until = until
        into = left.ring.salvaged_into
        dest = next((r for r in self._rings(current) if r.ring_id == into), None)
        if dest is None:  # a ring this process never mapped
            dest, until = current, current.head
        # The two words are read apart, while another move may be writing them: never wait
        # beyond what `dest` holds now, which includes every record already moved into it.
        self._owed[dest] = max(self._owed.get(dest, 0), min(until, dest.head))

    def _rings(self, current: Ring) -> list[Ring]:
        return [current, *(left.ring for left in self._left)]

    def next_wait(self, current: Ring) -> Wait | None:
        """The first ring a flush must still wait for (rings left, oldest first, then the
        current one), or None when every record this process is owed is committed."""
        for left in self._left:
            ring = left.ring
            if ring.committed >= self.target(ring):
                continue
            if ring.orphaned():
                return _room_in(current)
            return Wait(ring, self.target(ring), ring.orphaned)
        target = self.target(current)
        if current.committed < target:
            return Wait(current, target, current.replaced)
        return None

    def lost_span(self) -> tuple[Path, Span] | None:
        """A span skipped as corrupt (by a writer, or by a move) among this process's
        records in a ring left since the last call (with that ring's path), or None."""
        lost, self._lost = self._lost, []
        for left in self._left:
            span = left.ring.skipped_among_puts(self.target(left.ring))
            if span is not None:
                lost.append((left.ring.path, span))
        return lost[0] if lost else None

    def close(self) -> None:
        for left in self._left:
            left.ring.close()
        self._left.clear()
        self._owed.clear()

    def forget(self) -> None:
        """A forked child's: the parent's rings and records are not its own."""
        self._left = []
        self._owed = {}
        self._lost = []


def _room_in(current: Ring) -> Wait:
    """An orphan's records still wait for room in `current` (or for the ring lock): wait
    for the writer to commit there, revisiting once it does, or after a moment."""
    committed, until = current.committed, time.monotonic() + ORPHAN_RECHECK_S
    return Wait(
        current,
        max(current.head, committed + 8),
        lambda: current.committed != committed or time.monotonic() > until,
    )
