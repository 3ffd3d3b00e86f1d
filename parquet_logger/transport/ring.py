"""The shared-memory ring: a multi-producer, single-consumer write-ahead log of records.

The memory layout (a 4 KiB header of u64 words, then the data area) is drawn in
`ring_header`, with who writes each word.

Positions (head, committed) are byte offsets into an endless stream; `pos % capacity` is
where they fall in the data area. Frames (length, CRC, body) are `ring_frames`' business.

Corruption (a stray write, a foreign process, a bad page) costs the damaged span only; how it
is found, logged and repaired is `ring_repair`'s docstring.

Invariants:
- `committed` is the write-ahead log's mark: the writer advances it only once the Parquet files
  holding every record before it are durable (see the writer's commit journal), so a writer
  that crashes loses nothing and a restarted writer resumes reading at `committed`.
- `committed <= head` and `head - committed <= capacity`: producers only write into space the
  writer has committed, i.e. whose records are in durable Parquet files.
- A record is published by one aligned 8-byte store of `head` (memoryview cast "Q"), made after
  its bytes are in place (`struct.pack_into` would zero-fill first, and a reader could see the
  torn value). A producer killed before that store published nothing; the next producer
  overwrites the same space, and the writer never reads past `head`.
- Every header word is written by one side only (the table's last column; an orphan's writer
  side is the producer moving its records, `ring_salvage`), one aligned store at a time.
- The ring lock is `flock` on a file each process opens itself, plus a thread lock, so the
  kernel releases it when its holder dies. The writer takes no lock (it reads up to `head`)
  but to repair a broken head.
- Bytes in the ring are never unpickled or evaluated: the writer checks length and CRC and
  decodes records with orjson.
"""

from __future__ import annotations

import logging
import mmap
import os
import time
import zlib
from pathlib import Path

from parquet_logger.errors import RingError
from parquet_logger.transport import ring_file, ring_frames
from parquet_logger.transport.ring_frames import Body, Span, frame_size
from parquet_logger.transport.ring_header import (
    HEADER_SIZE,
    LAYOUT_VERSION,
    MIN_CAPACITY,
    POSITION_LIMIT,
    W_CAPACITY,
    W_COMMITTED,
    W_CORRUPT_FRAMES,
    W_DROPPED_BYTES,
    W_DROPPED_EVENTS,
    W_FLUSH_REQUESTS,
    W_HEAD,
    W_HIGH_WATER,
    W_RING_ID,
    W_UPLOAD_FAILURES,
    W_UPLOAD_SETTLED,
    W_VERSION,
    W_WAITED_PUTS,
    W_WRITER_ERRNO,
    W_WRITER_HEARTBEAT,
    W_WRITER_PID,
    RingStats,
    UnusableRingError,
    Word,
    header_problem,
    new_header,
)
from parquet_logger.transport.ring_lock import RingLock
from parquet_logger.transport.ring_repair import RingRepair
from parquet_logger.transport.ring_salvage import RingSalvage
from parquet_logger.transport.statedir import StateDir

log = logging.getLogger("parquet_logger")
_MAX_REPLACEMENTS = 3  # unusable rings replaced in one attach before giving up


class Ring(RingRepair, RingSalvage):
    """One mapping of a ring file. Producers call `put`; the single writer `read` and `commit`."""

    def __init__(self, path: Path, fd: int) -> None:
        """Map the ring file open at `fd` (the descriptor is closed, whatever happens).

        Raises:
            UnusableRingError: the file is not a usable ring (too small, garbage header,
                absurd capacity or committed position): `create_or_attach` replaces it.
            RingError: a ring of another layout (another version's writer serves it).
        """
        self.path = path
        try:
            st = os.fstat(fd)
            # Which file this mapping is: a /dev/shm cleaner may unlink the path (`replaced`).
            self._file_id = (st.st_dev, st.st_ino)
            if st.st_size < HEADER_SIZE + MIN_CAPACITY:
                raise UnusableRingError(path, st.st_ino, f"too small ({st.st_size} bytes)")
            # MAP_POPULATE maps every page now (a few ms for 128 MiB), instead of a page
            # fault on the first touch of each page later, in the middle of some callback.
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
            self._mmap = mmap.mmap(fd, st.st_size, flags, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        view = memoryview(self._mmap)
        self._words = view[:HEADER_SIZE].cast("Q")
        problem = header_problem(self._words, st.st_size)
        if problem is not None:
            self._release_views(view)
            raise UnusableRingError(path, st.st_ino, problem)
        if self._words[W_VERSION] != LAYOUT_VERSION:
            found = int(self._words[W_VERSION])
            self._release_views(view)
            raise RingError(
                f"{path} is a ring of layout {found}, this parquet-logger uses layout "
                f"{LAYOUT_VERSION}: a writer of another version serves this directory. Stop "
                "it (parquet-logger-daemon stop --dir ...) and start this version's; remove "
                "the file only if no writer runs (records in it not yet written are lost)"
            )
        self.capacity = int(self._words[W_CAPACITY])
        self._data = view[HEADER_SIZE : HEADER_SIZE + self.capacity]
        self._view = view
        # Per-process producer state: where this process's last record ends (for flush),
        # where its first record since its last flush starts (to tell whether a span the
        # writer skipped as corrupt may hold some of its records), and the committed
        # position at which a put last gave up (to not wait again in vain).
        self.last_put_end = 0
        self._unchecked_from: int | None = None
        self._gave_up_at: int | None = None
        # Drops counted while the ring lock was out of reach: [events, bytes], added to the
        # header's counters at the next put that gets the lock.
        self._local_drops = [0, 0]

    def _release_views(self, view: memoryview) -> None:
        self._words.release()
        view.release()
        self._mmap.close()

    # ----------------------------------------------------------------- creation
    @classmethod
    def create_or_attach(cls, state: StateDir, capacity: int) -> Ring:
        """Attach to the directory's ring, creating it (capacity bytes of data) if missing.

        Raises:
            ValueError: `capacity` is not a multiple of 8 of at least MIN_CAPACITY bytes.
            RingError: neither /dev/shm nor the state folder can hold a ring of that size.
        """
        # Checked before anything exists: a ring file of a bad size, once in place, would be
        # refused by every later attach and break the directory until removed by hand.
        if capacity % 8 or capacity < MIN_CAPACITY:
            raise ValueError(
                f"capacity must be a multiple of 8 and at least {MIN_CAPACITY}, got {capacity}"
            )
        set_aside: list[tuple[UnusableRingError, str]] = []
        for attempt in range(_MAX_REPLACEMENTS + 1):
            found = ring_file.open_or_create(state, HEADER_SIZE + capacity, new_header(capacity))
            try:
                ring = cls(*found)
            except UnusableRingError as exc:
                if attempt == _MAX_REPLACEMENTS:
                    raise
                # None: another process moved it aside already; look again either way.
                kept = ring_file.quarantine(state, exc.path, exc.inode)
                if kept is not None:
                    set_aside.append((exc, kept))
                continue
            for unusable, kept in set_aside:
                log.warning(
                    "parquet-logger: %s; moved aside to %s for inspection, and %s serves %s "
                    "as a new ring (records the old one held are lost)",
                    unusable,
                    kept,
                    ring.path,
                    state.log_dir,
                )
            return ring
        raise AssertionError("unreachable: the last attempt returns or raises")

    @classmethod
    def attach(cls, state: StateDir) -> Ring | None:
        """The directory's existing ring, or None."""
        found = ring_file.open_existing(state)
        return None if found is None else cls(*found)

    def replaced(self) -> bool:
        """The ring's path no longer names this mapping's file: it was unlinked (a /dev/shm
        cleaner, systemd-logind's RemoveIPC) and maybe created anew by another producer.
        Records put here from now on reach no writer that starts later; the live writer and
        the producers check this in their housekeeping and move to the path's ring."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return (st.st_dev, st.st_ino) != self._file_id

    def unlink(self) -> None:
        """Remove the ring file (the writer does this when it exits with nothing left), unless
        its path already names another ring, which is not this writer's to remove."""
        if not self.replaced():
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        try:
            self._data.release()
            self._words.release()
            self._view.release()
            self._mmap.close()
        except BufferError:
            # Bodies read by the writer and never written (a failed last write) still view
            # the mapping: it goes away with them, or with the process.
            pass

    # ----------------------------------------------------------------- header access
    @property
    def ring_id(self) -> int:
        return int(self._words[W_RING_ID])

    @property
    def head(self) -> int:
        return int(self._words[W_HEAD])

    @property
    def committed(self) -> int:
        """Everything before this position is in durable files (set by `commit`)."""
        return int(self._words[W_COMMITTED])

    @property
    def flush_requests(self) -> int:
        """How many flushes producers have asked for (see `request_flush`)."""
        return int(self._words[W_FLUSH_REQUESTS])

    writer_pid = Word(W_WRITER_PID, "The live writer's pid (0 once it has exited cleanly).")
    writer_heartbeat_ns = Word(W_WRITER_HEARTBEAT, "When the writer last passed its loop.")

    @property
    def corrupt_frames(self) -> int:
        """Corrupt spans the writers of this ring skipped (each one damaged frame or more)."""
        return int(self._words[W_CORRUPT_FRAMES])

    upload_settled = Word(
        W_UPLOAD_SETTLED, "Position up to which every file is uploaded or definitively failed."
    )
    upload_failures = Word(
        W_UPLOAD_FAILURES, "Definitive upload failures (the last one's detail: upload_error.json)."
    )
    writer_errno = Word(
        W_WRITER_ERRNO,
        "The errno of the writer's failing writes (ENOSPC...), 0 once they succeed: its own "
        "log may be on the failing disk, producers read why here.",
    )

    @property
    def writer_problem(self) -> str:
        """Why the writer cannot write ("[Errno 28] No space left on device"), or ""."""
        code = self.writer_errno
        return f"[Errno {code}] {os.strerror(code)}" if code else ""

    def stats(self) -> RingStats:
        w = self._words
        return RingStats(
            capacity=self.capacity,
            head=int(w[W_HEAD]),
            committed=int(w[W_COMMITTED]),
            high_water=int(w[W_HIGH_WATER]),
            flush_requests=int(w[W_FLUSH_REQUESTS]),
            dropped_events=int(w[W_DROPPED_EVENTS]),
            dropped_bytes=int(w[W_DROPPED_BYTES]),
            waited_puts=int(w[W_WAITED_PUTS]),
            writer_pid=int(w[W_WRITER_PID]),
            writer_heartbeat_ns=int(w[W_WRITER_HEARTBEAT]),
            corrupt_frames=int(w[W_CORRUPT_FRAMES]),
        )

    # ----------------------------------------------------------------- producer side
    def put(
        self, body: bytes, lock: RingLock, wait_s: float, lock_wait_s: float | None = None
    ) -> bool:
        """Append one record; wait up to `wait_s` for room, then count a drop.

        The ring lock is waited for at most `lock_wait_s` (default `wait_s`) too: a producer
        stopped while it holds the lock (SIGSTOP, a debugger) makes the others drop and count,
        not hang; after one put gave up on a holder, the next ones try once until the lock is
        free again.

        Returns True when the record is published (it is then in the write-ahead log and will
        reach Parquet even if this process dies right after), False when it was dropped.

        Raises:
            ValueError: `body` is empty (the reader takes a zero length for lost framing).
        """
        if not body:
            raise ValueError("a ring record body must not be empty")
        size = frame_size(len(body))
        if size > self.capacity:
            self._count_drop(lock, len(body))
            return False
        w = self._words
        deadline: float | None = None
        pause = 0.00005
        crc = zlib.crc32(body)  # outside the lock: other producers wait only for the copy
        lock_deadline = time.monotonic() + (wait_s if lock_wait_s is None else lock_wait_s)
        while True:
            if not self._acquire(lock, lock_deadline):
                self._local_drops[0] += 1
                self._local_drops[1] += len(body)
                return False
            try:
                head = w[W_HEAD]
                fill = head - w[W_COMMITTED]
                # An impossible fill (a corrupt head or committed) finds no room: the
                # writer repairs the positions, a put never writes by them.
                if 0 <= fill <= self.capacity - size and head < POSITION_LIMIT:
                    ring_frames.write(self._data, head, body, crc)
                    end = head + size
                    w[W_HEAD] = end  # the publishing store
                    if fill + size > w[W_HIGH_WATER]:
                        w[W_HIGH_WATER] = fill + size
                    self.last_put_end = end
                    if self._unchecked_from is None:
                        self._unchecked_from = head
                    self._gave_up_at = None
                    return True
                now = time.monotonic()
                if deadline is None:
                    w[W_WAITED_PUTS] += 1
                    # A writer that made no progress since our last give-up is not waited for.
                    stalled = self._gave_up_at == w[W_COMMITTED]
                    deadline = now + (0.0 if stalled else wait_s)
                if now >= deadline:
                    w[W_DROPPED_EVENTS] += 1
                    w[W_DROPPED_BYTES] += len(body)
                    self._gave_up_at = int(w[W_COMMITTED])
                    return False
            finally:
                lock.release()
            # Woken by nothing: the writer frees space only at commit, every flush.
            time.sleep(pause)
            pause = min(pause * 2, 0.005)

    def _acquire(self, lock: RingLock, deadline: float) -> bool:
        """The ring lock before `deadline` (one try only while the holder we last gave up on
        may still hold it); drops counted while it was out of reach are added on success."""
        wait_s = 0.0 if lock.blocked_by else max(0.0, deadline - time.monotonic())
        if not lock.acquire(wait_s):
            return False
        lock.blocked_by = None
        if self._local_drops[0]:
            self._words[W_DROPPED_EVENTS] += self._local_drops[0]
            self._words[W_DROPPED_BYTES] += self._local_drops[1]
            self._local_drops = [0, 0]
        return True

    def _count_drop(self, lock: RingLock, nbytes: int) -> None:
        self._local_drops[0] += 1
        self._local_drops[1] += nbytes
        if self._acquire(lock, time.monotonic()):
            lock.release()

    def request_flush(self, lock: RingLock, timeout_s: float = -1.0) -> None:
        """Ask the writer to write out everything it holds now (it watches this counter).

        Raises:
            TimeoutError: another process held the ring lock for `timeout_s`.
        """
        if not lock.acquire(timeout_s):
            raise TimeoutError(
                f"parquet-logger: the ring lock of {self.path} was held by {lock.blocked_by} "
                f"for {timeout_s} s"
            )
        try:
            self._words[W_FLUSH_REQUESTS] += 1
        finally:
            lock.release()

    # ----------------------------------------------------------------- writer side
    def read(self, pos: int, max_bytes: int) -> tuple[list[Body], int, list[Span]]:
        """Read published records from `pos`, up to about `max_bytes`.

        Returns (bodies, new position, spans skipped as corrupt): see `ring_frames.read`.
        A body is a view into the ring, not a copy (one frame that wraps around the end is
        copied): it stays valid until the writer commits past it, since producers only
        write into committed space.
        """
        return ring_frames.read(self._data, pos, int(self._words[W_HEAD]), max_bytes)

    def pending_records(self) -> int:
        """How many published records the writer has not committed yet (all producers'):
        a walk over the frame headers from committed to head, without reading bodies."""
        w = self._words
        return ring_frames.count(self._data, int(w[W_COMMITTED]), int(w[W_HEAD]))

    def commit(self, pos: int) -> None:
        """Free the ring up to `pos`: every record before it is in a durable file."""
        self._words[W_COMMITTED] = pos

    def forget_puts(self) -> None:
        """A forked child's fresh producer state: the parent's records are not its own."""
        self.last_put_end = 0
        self._unchecked_from = None
