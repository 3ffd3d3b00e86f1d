"""A damaged ring: the writer logs the spans it skipped and repairs impossible positions; a
producer's flush() checks whether its own records may have been in a skipped span.

Corruption (a stray write into /dev/shm, a foreign process, a bad page):
- A frame whose length is impossible or whose CRC fails costs that span only: reading resumes
  at the next frame that checks out (`ring_frames.read`). The writer logs the span skipped in
  the header (start, end), so that a producer's `flush()` can tell that records of its own
  may be in it and say so instead of reporting them written (`skipped_among_puts`).
- Impossible positions (head behind what the writer read, or more than `capacity` ahead of
  committed) make producers wait instead of writing; the writer repairs them by skipping
  ahead to a position past any a producer can have used (`repair_head`), logged as a span.
- A file that is not a usable ring (garbage header, truncated, absurd capacity or committed)
  is refused with `UnusableRingError`; `create_or_attach` moves it aside into the state folder
  (see `ring_file.quarantine`) and creates a new ring.
"""

from __future__ import annotations

from parquet_logger.transport.ring_frames import Span
from parquet_logger.transport.ring_header import (
    SKIPPED_SLOT_COUNT,
    W_COMMITTED,
    W_CORRUPT_FRAMES,
    W_HEAD,
    W_SKIPPED_SLOTS,
)
from parquet_logger.transport.ring_lock import RingLock


class RingRepair:
    """The corruption half of `Ring` (which sets these attributes when it maps a file)."""

    _words: memoryview
    capacity: int
    last_put_end: int
    _unchecked_from: int | None

    def note_skipped(self, span: Span) -> None:
        """Log a span the writer skipped as corrupt: its slot first, then the count, so a
        producer that reads the count and then the slots never takes a half-written one."""
        w = self._words
        number = int(w[W_CORRUPT_FRAMES])
        slot = W_SKIPPED_SLOTS + 2 * (number % SKIPPED_SLOT_COUNT)
        w[slot], w[slot + 1] = span
        w[W_CORRUPT_FRAMES] = number + 1

    def positions_broken(self, floor: int) -> bool:
        """Whether head is impossible for a writer that has read or seen it up to `floor`:
        behind that, more than `capacity` ahead of committed, or not a frame boundary."""
        head, committed = int(self._words[W_HEAD]), int(self._words[W_COMMITTED])
        return head < floor or head - committed > self.capacity or head % 8 != 0

    def repair_head(self, lock: RingLock, lock_wait_s: float, floor: int) -> Span | None:
        """Skip a broken head (the writer, once everything it read is committed): move head
        and committed to `committed + capacity`, past any position a producer can have
        written, so nothing published is read twice or reported written. Returns the span
        skipped, or None (the positions are fine after all, or the ring lock was busy).
        """
        if not lock.acquire(lock_wait_s):
            return None
        try:  # under the ring lock: no producer is between reading head and publishing
            if not self.positions_broken(floor):
                return None
            committed = int(self._words[W_COMMITTED])
            jump = committed + self.capacity
            self._words[W_HEAD] = jump
            self._words[W_COMMITTED] = jump
            return committed, jump
        finally:
            lock.release()

    def skipped_spans(self) -> tuple[int, list[Span]]:
        """(spans ever skipped, the last ones still in their slots, oldest first)."""
        w = self._words
        while True:
            count = int(w[W_CORRUPT_FRAMES])
            first = max(0, count - SKIPPED_SLOT_COUNT)
            spans = []
            for number in range(first, count):
                slot = W_SKIPPED_SLOTS + 2 * (number % SKIPPED_SLOT_COUNT)
                spans.append((int(w[slot]), int(w[slot + 1])))
            # A slot read may have been reused meanwhile only if the count moved past it.
            if int(w[W_CORRUPT_FRAMES]) - SKIPPED_SLOT_COUNT <= first:
                return count, spans

    def skipped_among_puts(self, target: int) -> Span | None:
        """Once the writer has committed past `target` (this process's last record end): a
        span it skipped as corrupt that overlaps this process's records since the last call,
        or None. The span may hold other processes' records only; it is reported all the
        same, since nothing tells whose records were in garbage.
        """
        start, self._unchecked_from = self._unchecked_from, None
        if self.last_put_end > target:
            self._unchecked_from = target  # records put meanwhile: checked next time
        if start is None or start >= target:
            return None
        count, spans = self.skipped_spans()
        for span in spans:
            if span[0] < target and span[1] > start:
                return span
        if count > len(spans) and spans and spans[0][0] > start:
            # Older spans are no longer in their slots; they lie before the oldest kept one.
            return start, min(spans[0][0], target)
        return None
