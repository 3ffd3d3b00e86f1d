"""The writer's engine: drain the ring into buffers, ask the flush policy, hand batches to the
exporter, commit the ring.

The ring is the write-ahead log. Records are read from `committed` on and stay in the ring,
as views, until the exporter has made them durable; only then does `flush` advance
`committed`, which frees their space for producers. A failed write drops what is buffered and
reads the same records again after `WRITE_RETRY_S`: nothing is lost, nothing is written twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from parquet_logger.transport.ring import Ring, RingLock, Span

from .buffers import Buffers
from .exporter import Batch, Exporter
from .flush_policy import Action, FlushPolicy, FlushRequests, Snapshot
from .status import Counters

log = logging.getLogger("parquet_logger_daemon")

READ_CHUNK_BYTES = 8 * 1024 * 1024
WRITE_RETRY_S = 1.0
SEAL_ROWS = 2048  # buffered records of a partition written as a row group ahead of a flush
REPAIR_LOCK_WAIT_S = 0.5  # the ring lock, to repair a broken head (else: the next pass)


class Engine:
    """Moves records from one ring to one exporter (single-threaded: the writer's loop)."""

    def __init__(
        self,
        ring: Ring,
        exporter: Exporter,
        policy: FlushPolicy,
        counters: Counters,
        lock: RingLock | None = None,
    ) -> None:
        self.ring = ring
        self.lock = lock  # taken only to repair a broken head; None: never repaired
        self.exporter = exporter
        self.policy = policy
        self.counters = counters
        self.buffers = Buffers()
        self.read_pos = ring.committed
        self._committed = ring.committed  # what this writer last set: committed is its word
        self._head_seen = ring.committed  # head only grows: seen smaller later is corrupt
        self._requests = FlushRequests()
        self._quiet = False  # the last pass over the ring found nothing new
        # When the oldest record not yet written was read: the interval flush bounds how
        # long a record waits, so a burst after a quiet spell does not start with a file of
        # its first few records.
        self._oldest_unwritten_at: float | None = None
        self._write_blocked_until = 0.0

    def recover(self) -> None:
        """Let the exporter finish a predecessor's interrupted commit, and commit it."""
        recovered = self.exporter.recover(self.ring.committed)
        if recovered is not None:
            self.ring.commit(recovered.end)
            self.exporter.committed(recovered)
        self.read_pos = self._committed = self.ring.committed

    def step(self, *, hup: bool, stopping: bool) -> tuple[int, Action]:
        """One pass: read what is published, then flush, seal or wait as the policy says
        (STOP is left to the caller). Returns how many records were read, and the action."""
        got = self.drain()
        decision = self.policy.decide(self.snapshot(hup=hup, stopping=stopping), time.monotonic())
        self._requests = decision.requests
        if decision.action is Action.FLUSH:
            self.flush()
        elif decision.action is Action.SEAL:
            self.seal()
        self._quiet = got == 0
        return got, decision.action

    def snapshot(self, *, hup: bool, stopping: bool) -> Snapshot:
        ring = self.ring
        # The request counter before the head: every record published before a flush()
        # asked is then inside the target (read the other way round, a record published in
        # between would miss its own flush and make a file of its own).
        flush_requests = ring.flush_requests
        return Snapshot(
            head=ring.head,
            read=self.read_pos,
            committed=ring.committed,
            ring_capacity=ring.capacity,
            buffered_bytes=self.buffers.nbytes,
            buffered_rows=self.buffers.rows,
            oldest_unwritten_at=self._oldest_unwritten_at,
            flush_requests=flush_requests,
            requests=self._requests,
            hup=hup,
            stopping=stopping,
            quiet=self._quiet,
            write_blocked_until=self._write_blocked_until,
        )

    def drain(self) -> int:
        """Read published records into the buffers until about max_file_bytes are buffered
        (so that one file stays near that size); returns how many were read."""
        if not self._check_positions():
            return 0
        count = 0
        now_us = time.time_ns() // 1000
        head = self.ring.head
        limit = self.policy.max_file_bytes
        while self.read_pos < head and self.buffers.nbytes < limit:
            room = min(READ_CHUNK_BYTES, limit - self.buffers.nbytes)
            bodies, pos, skipped = self.ring.read(self.read_pos, room)
            if self._oldest_unwritten_at is None and pos > self.read_pos:
                self._oldest_unwritten_at = time.monotonic()
            for body in bodies:
                self.buffers.add(body, now_us)
            self.read_pos = pos
            count += len(bodies)
            for span in skipped:
                self._skipped(span, "framing found again after it")
        self.counters.received += count
        return count

    def _skipped(self, span: Span, why: str) -> None:
        """Count a corrupt span and log it in the ring header, where producers' flush()
        finds it (so records of theirs in it are never reported written)."""
        self.ring.note_skipped(span)
        self.counters.corrupt_frames += 1
        self.counters.corrupt_bytes += span[1] - span[0]
        log.warning(
            "skipped a corrupt span of the ring: %d bytes at positions %d..%d (%s)",
            span[1] - span[0],
            *span,
            why,
        )

    def _check_positions(self) -> bool:
        """Repair impossible ring positions; False while they stay broken (nothing may be
        read then: past a broken head lie stale frames of earlier laps).

        A committed word that is not what this writer set is set back. A broken head (behind
        what this writer read or saw, too far ahead, misaligned: `Ring.positions_broken`) is
        skipped past, once what was read before it is committed.
        """
        ring = self.ring
        if ring.committed != self._committed:
            log.warning(
                "the ring's committed position was %d, not %d as this writer set it: set back",
                ring.committed,
                self._committed,
            )
            ring.commit(self._committed)
        floor = max(self.read_pos, self._head_seen)
        if not ring.positions_broken(floor):
            self._head_seen = ring.head
            return True
        if self.lock is None or not self.flush():
            return False  # a failed write is retried; producers wait meanwhile
        head = ring.head
        span = ring.repair_head(self.lock, REPAIR_LOCK_WAIT_S, floor)
        if span is None:
            return not ring.positions_broken(floor)
        self.read_pos = self._committed = self._head_seen = span[1]
        self._requests = replace(self._requests, target=min(self._requests.target, span[1]))
        self._skipped(span, f"the head was {head}, impossible: producers go on past it")
        return True

    def flush(self) -> bool:
        """Export everything read so far, then commit the ring past it.

        Returns False when the export failed (the records are then read again from the
        ring, where they stay until committed).
        """
        end = self.read_pos
        if end == self.ring.committed:
            self._oldest_unwritten_at = None
            return True
        try:
            exported = self.exporter.export(Batch(end, self.buffers.take()))
        except OSError as exc:
            self._write_failed(exc)
            return False
        self.ring.commit(end)
        self._committed = end
        self.ring.writer_errno = 0
        self._oldest_unwritten_at = None
        self.exporter.committed(exported)
        self.counters.written += exported.rows
        self.counters.flushes += 1
        self.counters.last_flush_ns = time.time_ns()
        return True

    def write_everything(self) -> bool:
        """Flush until everything published when called is committed; False if a write
        failed (the rest then stays in the ring)."""
        target = self.ring.head
        while self.ring.committed < min(target, self.ring.head):  # a repaired head is lower
            self.drain()
            if not self.flush():
                return False
        return True

    def seal(self) -> None:
        """Hand full chunks of a partition's records to the exporter ahead of the flush."""
        chunk = self.buffers.take_full(SEAL_ROWS)
        if not chunk:
            return
        try:
            self.exporter.write_ahead(chunk)
        except OSError as exc:
            self._write_failed(exc)

    def _write_failed(self, exc: OSError) -> None:
        """Drop what is buffered, and read the uncommitted records again from the ring once
        the retry delay has passed."""
        self.buffers.take()
        self.read_pos = self.ring.committed
        self._oldest_unwritten_at = None
        self.counters.write_errors += 1
        self.counters.last_error = f"{type(exc).__name__}: {exc}"
        self.ring.writer_errno = exc.errno or 0  # producers' flush() says why (see Ring)
        self._write_blocked_until = time.monotonic() + WRITE_RETRY_S
        log.error("writing part files failed (records stay in the ring, retrying): %s", exc)
