"""The shared-memory ring: a multi-producer, single-consumer write-ahead log of records.

Memory layout (one file in /dev/shm, or under the state folder as a fallback):

| offset | size | field              | written by                                   |
|-------:|-----:|--------------------|----------------------------------------------|
|      0 |    8 | magic `PQLRING1`   | creator, once                                |
|      8 |    8 | layout version     | creator, once                                |
|     16 |    8 | capacity (bytes)   | creator, once                                |
|     24 |    8 | ring id (random)   | creator, once                                |
|     32 |    8 | created (ns, UTC)  | creator, once                                |
|     64 |    8 | head               | producers, under the ring lock (the writer   |
|        |      |                    | too, under it, to repair it: `repair_head`)  |
|    128 |    8 | committed          | the writer                                   |
|    192 |    8 | flush requests     | producers, under the ring lock               |
|    200 |    8 | high-water fill    | producers, under the ring lock               |
|    208 |    8 | dropped events     | producers, under the ring lock               |
|    216 |    8 | dropped bytes      | producers, under the ring lock               |
|    224 |    8 | puts that waited   | producers, under the ring lock               |
|    256 |    8 | writer pid         | the writer                                   |
|    264 |    8 | writer heartbeat   | the writer (ns, UTC)                         |
|    272 |    8 | corrupt spans      | the writer: spans skipped (after their slot) |
|    320 |    8 | upload settled     | the writer: uploads done or failed up to it  |
|    328 |    8 | upload failures    | the writer: definitive upload failures       |
|    384 |  128 | skipped spans      | the writer: the last 8 corrupt spans, as     |
|        |      |                    | (start, end) pairs in slot `number % 8`      |
|   4096 |  cap | data               | producers write, the writer reads            |

Positions (head, committed) are byte offsets into an endless stream; `pos % capacity` is
where they fall in the data area. Frames (length, CRC, body) are `ring_frames`' business.

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
- Every header word is written by one side only (the table's last column), one aligned store
  at a time; code outside this module reads and writes them through `Ring`'s named accessors.
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
from dataclasses import dataclass
from pathlib import Path

from parquet_logger.errors import RingError
from parquet_logger.transport import ring_file, ring_frames
from parquet_logger.transport.ring_frames import Body, Span, frame_size
from parquet_logger.transport.ring_lock import RingLock
from parquet_logger.transport.statedir import StateDir

log = logging.getLogger("parquet_logger")
MAGIC = int.from_bytes(b"PQLRING1", "little")
# Bumped whenever the header or the record format (wire.WIRE_VERSION) changes: a producer and
# a writer of different versions must not share a ring. 2: wire v2 records, upload words.
LAYOUT_VERSION = 2
HEADER_SIZE = 4096
MIN_CAPACITY = 64 * 1024

# Word indexes into the header viewed as u64 (offset // 8). Private: other modules use the
# named accessors of `Ring`, so that who may write which word is stated here alone.
_MAGIC, _VERSION, _CAPACITY, _RING_ID, _CREATED = 0, 1, 2, 3, 4
_HEAD = 8
_COMMITTED = 16
_FLUSH_REQUESTS = 24
_HIGH_WATER = 25
_DROPPED_EVENTS = 26
_DROPPED_BYTES = 27
_WAITED_PUTS = 28
_WRITER_PID = 32
_WRITER_HEARTBEAT = 33
_CORRUPT_FRAMES = 34
_UPLOAD_SETTLED = 40
_UPLOAD_FAILURES = 41
_SKIPPED_SLOTS = 48  # 8 (start, end) pairs up to word 63
SKIPPED_SLOT_COUNT = 8
# No ring moves 2**62 bytes (4 EiB) in its life: a position at or past this is garbage, and
# keeps `position + frame` clear of the u64 overflow.
POSITION_LIMIT = 1 << 62
_MAX_REPLACEMENTS = 3  # unusable rings replaced in one attach before giving up


def _header(capacity: int) -> bytes:
    """The header of a new ring: the creator's words set, every other word zero."""
    header = bytearray(HEADER_SIZE)
    words = memoryview(header).cast("Q")
    words[_MAGIC] = MAGIC
    words[_VERSION] = LAYOUT_VERSION
    words[_CAPACITY] = capacity
    words[_RING_ID] = int.from_bytes(os.urandom(8), "little")
    words[_CREATED] = time.time_ns()
    words.release()
    return bytes(header)


def _header_problem(words: memoryview, size: int) -> str | None:
    """Why a mapped file is not a usable ring, or None. A ring of another layout version is
    usable by that version's writer: not a problem here (`Ring.__init__` refuses it)."""
    if words[_MAGIC] != MAGIC:
        return "no ring header (garbage or a foreign file)"
    capacity = int(words[_CAPACITY])
    if words[_VERSION] != LAYOUT_VERSION:
        return None
    if capacity < MIN_CAPACITY or capacity % 8 or HEADER_SIZE + capacity > size:
        return f"capacity {capacity} does not fit a file of {size} bytes (truncated or garbage)"
    committed = int(words[_COMMITTED])
    if committed % 8 or committed >= POSITION_LIMIT:
        return f"committed position {committed} is impossible"
    return None


class UnusableRingError(RingError):
    """The file at a ring's path is not a usable ring; it is moved aside and replaced."""

    def __init__(self, path: Path, inode: int, reason: str) -> None:
        super().__init__(f"{path} is not a usable parquet-logger ring: {reason}")
        self.path = path
        self.inode = inode  # the file judged: a replacement made meanwhile is not touched
        self.reason = reason


class _Word:
    """A writer-owned header word as an attribute of `Ring`: one aligned 8-byte load or store.

    Each is written by one thread of the one writer; readers in other processes see the old
    value or the new one, never a mix.
    """

    def __init__(self, index: int, doc: str) -> None:
        self._index = index
        self.__doc__ = doc

    def __get__(self, ring: Ring, owner: type[Ring] | None = None) -> int:
        return int(ring._words[self._index])

    def __set__(self, ring: Ring, value: int) -> None:
        ring._words[self._index] = value


@dataclass(frozen=True)
class RingStats:
    """A snapshot of the ring's counters (read without a lock: each word is one load)."""

    capacity: int
    head: int
    committed: int
    high_water: int
    flush_requests: int
    dropped_events: int
    dropped_bytes: int
    waited_puts: int
    writer_pid: int
    writer_heartbeat_ns: int
    corrupt_frames: int

    @property
    def fill(self) -> int:
        return self.head - self.committed


class Ring:
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
        problem = _header_problem(self._words, st.st_size)
        if problem is not None:
            self._release_views(view)
            raise UnusableRingError(path, st.st_ino, problem)
        if self._words[_VERSION] != LAYOUT_VERSION:
            found = int(self._words[_VERSION])
            self._release_views(view)
            raise RingError(
                f"{path} is a ring of layout {found}, this parquet-logger uses layout "
                f"{LAYOUT_VERSION}: a writer of another version serves this directory. Stop "
                "it (parquet-logger-daemon stop --dir ...) and start this version's; remove "
                "the file only if no writer runs (records in it not yet written are lost)"
            )
        self.capacity = int(self._words[_CAPACITY])
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
            found = ring_file.open_or_create(state, HEADER_SIZE + capacity, _header(capacity))
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

    def unlink(self) -> None:
        """Remove the ring file (the writer does this when it exits with nothing left)."""
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
        return int(self._words[_RING_ID])

    @property
    def head(self) -> int:
        return int(self._words[_HEAD])

    @property
    def committed(self) -> int:
        """Everything before this position is in durable files (set by `commit`)."""
        return int(self._words[_COMMITTED])

    @property
    def flush_requests(self) -> int:
        """How many flushes producers have asked for (see `request_flush`)."""
        return int(self._words[_FLUSH_REQUESTS])

    writer_pid = _Word(_WRITER_PID, "The live writer's pid (0 once it has exited cleanly).")
    writer_heartbeat_ns = _Word(_WRITER_HEARTBEAT, "When the writer last passed its loop.")

    @property
    def corrupt_frames(self) -> int:
        """Corrupt spans the writers of this ring skipped (each one damaged frame or more)."""
        return int(self._words[_CORRUPT_FRAMES])

    upload_settled = _Word(
        _UPLOAD_SETTLED, "Position up to which every file is uploaded or definitively failed."
    )
    upload_failures = _Word(
        _UPLOAD_FAILURES, "Definitive upload failures (the last one's detail: upload_error.json)."
    )

    def stats(self) -> RingStats:
        w = self._words
        return RingStats(
            capacity=self.capacity,
            head=int(w[_HEAD]),
            committed=int(w[_COMMITTED]),
            high_water=int(w[_HIGH_WATER]),
            flush_requests=int(w[_FLUSH_REQUESTS]),
            dropped_events=int(w[_DROPPED_EVENTS]),
            dropped_bytes=int(w[_DROPPED_BYTES]),
            waited_puts=int(w[_WAITED_PUTS]),
            writer_pid=int(w[_WRITER_PID]),
            writer_heartbeat_ns=int(w[_WRITER_HEARTBEAT]),
            corrupt_frames=int(w[_CORRUPT_FRAMES]),
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
                head = w[_HEAD]
                fill = head - w[_COMMITTED]
                # An impossible fill (a corrupt head or committed) finds no room: the
                # writer repairs the positions, a put never writes by them.
                if 0 <= fill <= self.capacity - size and head < POSITION_LIMIT:
                    ring_frames.write(self._data, head, body, crc)
                    end = head + size
                    w[_HEAD] = end  # the publishing store
                    if fill + size > w[_HIGH_WATER]:
                        w[_HIGH_WATER] = fill + size
                    self.last_put_end = end
                    if self._unchecked_from is None:
                        self._unchecked_from = head
                    self._gave_up_at = None
                    return True
                now = time.monotonic()
                if deadline is None:
                    w[_WAITED_PUTS] += 1
                    # A writer that made no progress since our last give-up is not waited for.
                    stalled = self._gave_up_at == w[_COMMITTED]
                    deadline = now + (0.0 if stalled else wait_s)
                if now >= deadline:
                    w[_DROPPED_EVENTS] += 1
                    w[_DROPPED_BYTES] += len(body)
                    self._gave_up_at = int(w[_COMMITTED])
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
            self._words[_DROPPED_EVENTS] += self._local_drops[0]
            self._words[_DROPPED_BYTES] += self._local_drops[1]
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
            self._words[_FLUSH_REQUESTS] += 1
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
        return ring_frames.read(self._data, pos, int(self._words[_HEAD]), max_bytes)

    def pending_records(self) -> int:
        """How many published records the writer has not committed yet (all producers'):
        a walk over the frame headers from committed to head, without reading bodies."""
        w = self._words
        return ring_frames.count(self._data, int(w[_COMMITTED]), int(w[_HEAD]))

    def commit(self, pos: int) -> None:
        """Free the ring up to `pos`: every record before it is in a durable file."""
        self._words[_COMMITTED] = pos

    def note_skipped(self, span: Span) -> None:
        """Log a span the writer skipped as corrupt: its slot first, then the count, so a
        producer that reads the count and then the slots never takes a half-written one."""
        w = self._words
        number = int(w[_CORRUPT_FRAMES])
        slot = _SKIPPED_SLOTS + 2 * (number % SKIPPED_SLOT_COUNT)
        w[slot], w[slot + 1] = span
        w[_CORRUPT_FRAMES] = number + 1

    def positions_broken(self, floor: int) -> bool:
        """Whether head is impossible for a writer that has read or seen it up to `floor`:
        behind that, more than `capacity` ahead of committed, or not a frame boundary."""
        head, committed = int(self._words[_HEAD]), int(self._words[_COMMITTED])
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
            committed = int(self._words[_COMMITTED])
            jump = committed + self.capacity
            self._words[_HEAD] = jump
            self._words[_COMMITTED] = jump
            return committed, jump
        finally:
            lock.release()

    # ----------------------------------------------------------------- corruption, producer side
    def skipped_spans(self) -> tuple[int, list[Span]]:
        """(spans ever skipped, the last ones still in their slots, oldest first)."""
        w = self._words
        while True:
            count = int(w[_CORRUPT_FRAMES])
            first = max(0, count - SKIPPED_SLOT_COUNT)
            spans = []
            for number in range(first, count):
                slot = _SKIPPED_SLOTS + 2 * (number % SKIPPED_SLOT_COUNT)
                spans.append((int(w[slot]), int(w[slot + 1])))
            # A slot read may have been reused meanwhile only if the count moved past it.
            if int(w[_CORRUPT_FRAMES]) - SKIPPED_SLOT_COUNT <= first:
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

    def forget_puts(self) -> None:
        """A forked child's fresh producer state: the parent's records are not its own."""
        self.last_put_end = 0
        self._unchecked_from = None
