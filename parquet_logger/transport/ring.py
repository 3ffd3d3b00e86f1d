"""The shared-memory ring: a multi-producer, single-consumer write-ahead log of records.

Memory layout (one file in /dev/shm, or under the state folder as a fallback):

| offset | size | field              | written by                                   |
|-------:|-----:|--------------------|----------------------------------------------|
|      0 |    8 | magic `PQLRING1`   | creator, once                                |
|      8 |    8 | layout version     | creator, once                                |
|     16 |    8 | capacity (bytes)   | creator, once                                |
|     24 |    8 | ring id (random)   | creator, once                                |
|     32 |    8 | created (ns, UTC)  | creator, once                                |
|     64 |    8 | head               | producers, under the ring lock               |
|    128 |    8 | committed          | the writer                                   |
|    192 |    8 | flush requests     | producers, under the ring lock               |
|    200 |    8 | high-water fill    | producers, under the ring lock               |
|    208 |    8 | dropped events     | producers, under the ring lock               |
|    216 |    8 | dropped bytes      | producers, under the ring lock               |
|    224 |    8 | puts that waited   | producers, under the ring lock               |
|    256 |    8 | writer pid         | the writer                                   |
|    264 |    8 | writer heartbeat   | the writer (ns, UTC)                         |
|    272 |    8 | corrupt frames     | the writer                                   |
|    320 |    8 | upload settled     | the writer: uploads done or failed up to it  |
|    328 |    8 | upload failures    | the writer: definitive upload failures       |
|    336 |    8 | writer errno       | the writer: errno of its failing writes, or 0 |
|   4096 |  cap | data               | producers write, the writer reads            |

Positions (head, committed) are byte offsets into an endless stream; `pos % capacity` is
where they fall in the data area. A frame is `u32 length, u32 crc32(body), body`, padded to 8
bytes, and may wrap around the end of the data area (its 8-byte header never does).

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
  kernel releases it when its holder dies. The writer takes no lock: it reads up to `head`.
- Bytes in the ring are never unpickled or evaluated: the writer checks length and CRC and
  decodes records with orjson.
"""

from __future__ import annotations

import mmap
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from parquet_logger.errors import RingError
from parquet_logger.transport import ring_file
from parquet_logger.transport.ring_lock import RingLock
from parquet_logger.transport.statedir import StateDir

MAGIC = int.from_bytes(b"PQLRING1", "little")
# Bumped whenever the header or the record format (wire.WIRE_VERSION) changes: a producer and
# a writer of different versions must not share a ring. 2: wire v2 records, upload words.
LAYOUT_VERSION = 2
HEADER_SIZE = 4096
FRAME_HEADER = struct.Struct("<II")
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
_WRITER_ERRNO = 42


def frame_size(body_len: int) -> int:
    """Bytes a record of `body_len` bytes takes in the ring, header and padding included."""
    return (FRAME_HEADER.size + body_len + 7) & ~7


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
        self.path = path
        st = os.fstat(fd)
        size = st.st_size
        # Which file this mapping is: a /dev/shm cleaner may unlink the path (see `replaced`).
        self._file_id = (st.st_dev, st.st_ino)
        if size < HEADER_SIZE + MIN_CAPACITY:
            raise RingError(f"{path} is too small ({size} bytes) to be a ring")
        # MAP_POPULATE maps every page now (a few ms for 128 MiB), instead of a page fault
        # on the first touch of each page later, in the middle of some callback.
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        self._mmap = mmap.mmap(fd, size, flags, mmap.PROT_READ | mmap.PROT_WRITE)
        os.close(fd)
        view = memoryview(self._mmap)
        self._words = view[:HEADER_SIZE].cast("Q")
        if self._words[_MAGIC] != MAGIC:
            self._release_views(view)
            raise RingError(f"{path} is not a parquet-logger ring")
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
        if HEADER_SIZE + self.capacity > size or self.capacity % 8:
            self._release_views(view)
            raise RingError(f"{path} has a corrupt header (capacity {self.capacity})")
        self._data = view[HEADER_SIZE : HEADER_SIZE + self.capacity]
        self._view = view
        # Per-process producer state: where this process's last record ends (for flush), and
        # the committed position at which a put last gave up (to not wait again in vain).
        self.last_put_end = 0
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
        return cls(*ring_file.open_or_create(state, HEADER_SIZE + capacity, _header(capacity)))

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
    corrupt_frames = _Word(_CORRUPT_FRAMES, "Frames skipped for a bad length or checksum.")
    upload_settled = _Word(
        _UPLOAD_SETTLED, "Position up to which every file is uploaded or definitively failed."
    )
    upload_failures = _Word(
        _UPLOAD_FAILURES, "Definitive upload failures (the last one's detail: upload_error.json)."
    )
    writer_errno = _Word(
        _WRITER_ERRNO,
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
                if size <= self.capacity - fill:
                    self._write_frame(head, body, crc)
                    end = head + size
                    w[_HEAD] = end  # the publishing store
                    if fill + size > w[_HIGH_WATER]:
                        w[_HIGH_WATER] = fill + size
                    self.last_put_end = end
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

    def _write_frame(self, head: int, body: bytes, crc: int) -> None:
        cap = self.capacity
        data = self._data
        offset = head % cap
        FRAME_HEADER.pack_into(data, offset, len(body), crc)
        start = (offset + FRAME_HEADER.size) % cap
        first = min(len(body), cap - start)
        data[start : start + first] = body[:first]
        if first < len(body):
            data[: len(body) - first] = body[first:]

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
    def read(self, pos: int, max_bytes: int) -> tuple[list[bytes | memoryview], int, int]:
        """Read published records from `pos`, up to about `max_bytes`.

        Returns (bodies, new position, corrupt frames skipped). A body is a view into the
        ring, not a copy (one frame that wraps around the end is copied): it stays valid
        until the writer commits past it, since producers only write into committed space.
        A frame whose length is impossible ends the read at `head` (framing is lost,
        everything up to head is counted as one corrupt span); a frame whose CRC fails is
        skipped on its own.
        """
        head = int(self._words[_HEAD])
        cap = self.capacity
        data = self._data
        bodies: list[bytes | memoryview] = []
        corrupt = 0
        limit = pos + max_bytes
        unpack = FRAME_HEADER.unpack_from
        while pos < head and pos < limit:
            length, crc = unpack(data, pos % cap)
            size = (FRAME_HEADER.size + length + 7) & ~7  # frame_size, inlined: per record
            if length == 0 or size > head - pos:
                return bodies, head, corrupt + 1
            start = (pos + FRAME_HEADER.size) % cap
            body: bytes | memoryview
            if start + length <= cap:
                body = data[start : start + length]
            else:
                body = bytes(data[start:]) + bytes(data[: length - (cap - start)])
            if zlib.crc32(body) == crc:
                bodies.append(body)
            else:
                corrupt += 1
            pos += size
        return bodies, pos, corrupt

    def pending_records(self) -> int:
        """How many published records the writer has not committed yet (all producers'):
        a walk over the frame headers from committed to head, without reading bodies."""
        pos, head, cap = int(self._words[_COMMITTED]), int(self._words[_HEAD]), self.capacity
        count = 0
        while pos < head:
            length = FRAME_HEADER.unpack_from(self._data, pos % cap)[0]
            size = frame_size(length)
            if length == 0 or size > head - pos:
                return count + 1  # framing lost: at least this one
            count += 1
            pos += size
        return count

    def commit(self, pos: int) -> None:
        """Free the ring up to `pos`: every record before it is in a durable file."""
        self._words[_COMMITTED] = pos
