"""Orphans: removed rings that no writer serves or ever will, and moving their records out.

A ring whose path was unlinked (a /dev/shm cleaner, logind's RemoveIPC) can no longer be
opened. The writer serves a removed ring only if it served it already (it writes it out, then
moves to the ring at the path: `succession`); a ring removed before the writer got to it (two
removals within a second), or one a producer put into after the writer left it, is an
*orphan*: `writer_pid` 0 and not at its path. Its records would wait there for a writer that
never comes, so a producer that left it moves them into the ring at the path itself
(`salvage_into`): frames copied as they are, CRC checked (a corrupt span is counted and
logged as lost, as the writer counts it), then marked committed in the orphan, as a writer
would, so that no other producer copies them again.

A salvage and a writer's claim are exclusive through the ring lock, which every ring of a
directory shares (it is a file of the state folder):
- a salvager, holding the lock, checks that the ring is removed and its `writer_pid` 0,
  copies one chunk, publishes it, then advances the orphan's `committed`;
- a writer stores its pid, then checks that the ring is still at its path, holding the lock
  (`claim`: the lock orders the store before any later salvager's look); a ring removed by
  then it gives back (`writer_pid` 0) and never reads.
A salvager that saw pid 0 saw the ring removed, so the writer, which looks after its store,
sees it removed too and leaves it; a salvager that looks after the claim held sees the pid
and leaves the ring to the writer (which writes it out as any ring removed under it). A
salvager killed between publishing a chunk and advancing `committed` (two adjacent stores)
leaves that chunk to be copied again: the one window in which a record may land twice.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from parquet_logger.transport import ring_frames
from parquet_logger.transport.ring_frames import Span, frame_size
from parquet_logger.transport.ring_header import (
    POSITION_LIMIT,
    W_COMMITTED,
    W_HEAD,
    W_HIGH_WATER,
    W_RING_ID,
    W_SALVAGED_INTO,
    W_SALVAGED_UNTIL,
    W_WRITER_PID,
)
from parquet_logger.transport.ring_lock import RingLock

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger("parquet_logger")

# Bytes moved per hold of the ring lock: every producer's put waits while it is held.
SALVAGE_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Salvaged:
    """One salvage: how many records moved, and where they end in the destination ring."""

    records: int
    end: int


class RingSalvage:
    """The orphan half of `Ring` (which sets these attributes when it maps a file)."""

    _words: memoryview
    _data: memoryview
    capacity: int
    path: Path
    last_put_end: int
    _unchecked_from: int | None

    if TYPE_CHECKING:

        def replaced(self) -> bool: ...
        def note_skipped(self, span: Span) -> None: ...
        def positions_broken(self, floor: int) -> bool: ...

    @property
    def salvaged_into(self) -> int:
        """The ring id of the ring this orphan's records were last moved into (0: never)."""
        return int(self._words[W_SALVAGED_INTO])

    @property
    def salvaged_until(self) -> int:
        """Where in that ring the last records moved there end."""
        return int(self._words[W_SALVAGED_UNTIL])

    def orphaned(self) -> bool:
        """Removed, and no writer serves it: nobody will ever write its records but a
        producer that moves them (a writer's claim of a removed ring is given back)."""
        return self._words[W_WRITER_PID] == 0 and self.replaced()

    # ----------------------------------------------------------------- writer side
    def claim(self, lock: RingLock, lock_wait_s: float) -> bool:
        """The writer's claim before it reads the ring: True once it may serve it; False
        when the ring was removed meanwhile (its pid is taken back; a producer may be
        moving its records out: serve the ring at the path instead).

        If the lock stays held (a stopped producer), the check runs without it: a salvager
        holding it saw the ring removed, so the writer sees that too, and one that takes it
        later sees the pid stored this long ago.
        """
        self._words[W_WRITER_PID] = os.getpid()
        locked = lock.acquire(lock_wait_s)
        try:
            if not self.replaced():
                return True
        finally:
            if locked:
                lock.release()
        self._words[W_WRITER_PID] = 0
        return False

    # ----------------------------------------------------------------- producer side
    def salvage_into(
        self, dest: RingSalvage, lock: RingLock, lock_wait_s: float
    ) -> Salvaged | None:
        """Move this orphan's uncommitted records into `dest` (the ring at the path), as
        many as fit, SALVAGE_CHUNK_BYTES per hold of the ring lock. `dest` counts them as
        this process's puts, so its flush waits for them.

        Returns what moved, or None: nothing did (not an orphan, nothing left, the lock
        busy for `lock_wait_s`, or no room in `dest` until the writer commits there).
        """
        records, end = 0, 0
        while True:
            if not lock.acquire(lock_wait_s):
                break
            try:
                if not self.orphaned():
                    break
                chunk = self._move_chunk(dest)
            finally:
                lock.release()
            if chunk is None:
                break
            if chunk.records:
                records += chunk.records
                end = chunk.end
        return Salvaged(records, end) if records else None

    def _move_chunk(self, dest: RingSalvage) -> Salvaged | None:
        """Copy the frames from committed on that fit in `dest` (up to a chunk), publish
        them there, then commit them here. Holding the ring lock: no producer writes either
        ring meanwhile, and no writer can claim this one."""
        w, dw = self._words, dest._words
        pos, head = int(w[W_COMMITTED]), int(w[W_HEAD])
        if head <= pos:
            return None
        if self.positions_broken(pos) or head >= POSITION_LIMIT:
            self._lose((pos, head), "its head position is impossible")
            w[W_COMMITTED] = head
            return None
        start = dest_head = int(dw[W_HEAD])
        fill = dest_head - int(dw[W_COMMITTED])
        if not 0 <= fill <= dest.capacity or dest_head >= POSITION_LIMIT:
            return None  # broken positions: the writer repairs them; moved on a later try
        budget = min(dest.capacity - fill, SALVAGE_CHUNK_BYTES)
        records, first = 0, pos
        while pos < head:
            bodies, after, skipped = ring_frames.read(self._data, pos, head, 1)
            if skipped:
                self._lose(skipped[0], "corrupt; framing found again after it")
            elif frame_size(len(bodies[0])) > dest.capacity:
                self._lose((pos, after), "a record larger than the ring at the path")
            elif frame_size(len(bodies[0])) > budget:
                break
            else:
                body = bytes(bodies[0])
                ring_frames.write(dest._data, dest_head, body, zlib.crc32(body))
                dest_head += frame_size(len(body))
                budget -= frame_size(len(body))
                records += 1
            pos = after
        if records:
            dw[W_HEAD] = dest_head  # published: the writer of `dest` may read them now
            dw[W_HIGH_WATER] = max(int(dw[W_HIGH_WATER]), dest_head - int(dw[W_COMMITTED]))
            w[W_SALVAGED_INTO] = dw[W_RING_ID]
            w[W_SALVAGED_UNTIL] = dest_head
            dest.last_put_end = dest_head
            if dest._unchecked_from is None:
                dest._unchecked_from = start
        w[W_COMMITTED] = pos  # last: whoever reads committed finds the salvage words set
        return Salvaged(records, dest_head) if pos > first else None

    def _lose(self, span: Span, why: str) -> None:
        """Count a span that cannot be moved, where producers' flush() looks for it."""
        self.note_skipped(span)
        log.warning(
            "parquet-logger: skipped a span of the removed ring %s while moving its "
            "records: %d bytes at positions %d..%d (%s); the events in it are lost",
            self.path,
            span[1] - span[0],
            *span,
            why,
        )
