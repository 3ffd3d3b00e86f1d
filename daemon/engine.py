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

from parquet_logger.transport.ring import Ring

from .buffers import Buffers
from .exporter import Batch, Exporter
from .flush_policy import Action, FlushPolicy, FlushRequests, Snapshot
from .status import Counters

log = logging.getLogger("parquet_logger_daemon")

READ_CHUNK_BYTES = 8 * 1024 * 1024
WRITE_RETRY_S = 1.0
SEAL_ROWS = 2048  # buffered records of a partition written as a row group ahead of a flush


class Engine:
    """Moves records from one ring to one exporter (single-threaded: the writer's loop)."""

    def __init__(
        self, ring: Ring, exporter: Exporter, policy: FlushPolicy, counters: Counters
    ) -> None:
        self.ring = ring
        self.exporter = exporter
        self.policy = policy
        self.counters = counters
        self.buffers = Buffers()
        self.read_pos = ring.committed
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
        self.read_pos = self.ring.committed

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
        return Snapshot(
            head=ring.head,
            read=self.read_pos,
            committed=ring.committed,
            ring_capacity=ring.capacity,
            buffered_bytes=self.buffers.nbytes,
            buffered_rows=self.buffers.rows,
            oldest_unwritten_at=self._oldest_unwritten_at,
            flush_requests=ring.flush_requests,
            requests=self._requests,
            hup=hup,
            stopping=stopping,
            quiet=self._quiet,
            write_blocked_until=self._write_blocked_until,
        )

    def drain(self) -> int:
        """Read published records into the buffers until about max_file_bytes are buffered
        (so that one file stays near that size); returns how many were read."""
        count = 0
        now_us = time.time_ns() // 1000
        head = self.ring.head
        limit = self.policy.max_file_bytes
        while self.read_pos < head and self.buffers.nbytes < limit:
            room = min(READ_CHUNK_BYTES, limit - self.buffers.nbytes)
            bodies, pos, corrupt = self.ring.read(self.read_pos, room)
            if self._oldest_unwritten_at is None and pos > self.read_pos:
                self._oldest_unwritten_at = time.monotonic()
            for body in bodies:
                self.buffers.add(body, now_us)
            self.read_pos = pos
            count += len(bodies)
            if corrupt:
                self.counters.corrupt_frames += corrupt
                self.ring.corrupt_frames = self.counters.corrupt_frames
                log.warning("skipped %d corrupt frame(s) in the ring", corrupt)
        self.counters.received += count
        return count

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
        while self.ring.committed < target:
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
