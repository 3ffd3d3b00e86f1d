"""The ring's header: its layout, the words' indexes, a new header and the check of a mapped one.

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
|    128 |    8 | committed          | the writer (of an orphan: the producer that  |
|        |      |                    | salvages it, under the ring lock)            |
|    192 |    8 | flush requests     | producers, under the ring lock               |
|    200 |    8 | high-water fill    | producers, under the ring lock               |
|    208 |    8 | dropped events     | producers, under the ring lock               |
|    216 |    8 | dropped bytes      | producers, under the ring lock               |
|    224 |    8 | puts that waited   | producers, under the ring lock               |
|    256 |    8 | writer pid         | the writer (its claim: see `ring_salvage`)   |
|    264 |    8 | writer heartbeat   | the writer (ns, UTC)                         |
|    272 |    8 | corrupt spans      | the writer: spans skipped (after their slot) |
|    320 |    8 | upload settled     | the writer: uploads done or failed up to it  |
|    328 |    8 | upload failures    | the writer: definitive upload failures       |
|    336 |    8 | writer errno       | the writer: errno of its failing writes, or 0 |
|    344 |    8 | salvaged into      | the salvaging producer, under the ring lock: |
|        |      |                    | the ring id its records were moved into      |
|    352 |    8 | salvaged until     | the same: where the last move ended there    |
|    384 |  128 | skipped spans      | the writer: the last 8 corrupt spans, as     |
|        |      |                    | (start, end) pairs in slot `number % 8`      |
|   4096 |  cap | data               | producers write, the writer reads            |

Every word is written by one side only (the last column), one aligned 8-byte store at a time
(an orphan, a removed ring no writer serves, has no writer: see `ring_salvage`);
code outside the ring modules reads and writes them through `Ring`'s named accessors.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parquet_logger.errors import RingError

MAGIC = int.from_bytes(b"PQLRING1", "little")
# Bumped whenever the header or the record format (wire.WIRE_VERSION) changes: a producer and
# a writer of different versions must not share a ring. 2: wire v2 records, upload words.
# 3: salvage words, and the writer's claim that makes a salvage and a writer exclusive.
LAYOUT_VERSION = 3
HEADER_SIZE = 4096
MIN_CAPACITY = 64 * 1024

# Word indexes into the header viewed as u64 (offset // 8), for `ring` alone: other modules
# use the named accessors of `Ring`, so that who may write which word is stated here.
W_MAGIC, W_VERSION, W_CAPACITY, W_RING_ID, W_CREATED = 0, 1, 2, 3, 4
W_HEAD = 8
W_COMMITTED = 16
W_FLUSH_REQUESTS = 24
W_HIGH_WATER = 25
W_DROPPED_EVENTS = 26
W_DROPPED_BYTES = 27
W_WAITED_PUTS = 28
W_WRITER_PID = 32
W_WRITER_HEARTBEAT = 33
W_CORRUPT_FRAMES = 34
W_UPLOAD_SETTLED = 40
W_UPLOAD_FAILURES = 41
W_WRITER_ERRNO = 42
W_SALVAGED_INTO = 43
W_SALVAGED_UNTIL = 44
W_SKIPPED_SLOTS = 48  # 8 (start, end) pairs up to word 63
SKIPPED_SLOT_COUNT = 8
# No ring moves 2**62 bytes (4 EiB) in its life: a position at or past this is garbage, and
# keeps `position + frame` clear of the u64 overflow.
POSITION_LIMIT = 1 << 62


def new_header(capacity: int) -> bytes:
    """The header of a new ring: the creator's words set, every other word zero."""
    header = bytearray(HEADER_SIZE)
    words = memoryview(header).cast("Q")
    words[W_MAGIC] = MAGIC
    words[W_VERSION] = LAYOUT_VERSION
    words[W_CAPACITY] = capacity
    words[W_RING_ID] = int.from_bytes(os.urandom(8), "little")
    words[W_CREATED] = time.time_ns()
    words.release()
    return bytes(header)


def header_problem(words: memoryview, size: int) -> str | None:
    """Why a mapped file is not a usable ring, or None. A ring of another layout version is
    usable by that version's writer: not a problem here (`Ring.__init__` refuses it)."""
    if words[W_MAGIC] != MAGIC:
        return "no ring header (garbage or a foreign file)"
    capacity = int(words[W_CAPACITY])
    if words[W_VERSION] != LAYOUT_VERSION:
        return None
    if capacity < MIN_CAPACITY or capacity % 8 or HEADER_SIZE + capacity > size:
        return f"capacity {capacity} does not fit a file of {size} bytes (truncated or garbage)"
    committed = int(words[W_COMMITTED])
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


class Word:
    """A writer-owned header word as an attribute of `Ring`: one aligned 8-byte load or store.

    Each is written by one thread of the one writer; readers in other processes see the old
    value or the new one, never a mix.
    """

    def __init__(self, index: int, doc: str) -> None:
        self._index = index
        self.__doc__ = doc

    def __get__(self, ring: Any, owner: type[Any] | None = None) -> int:
        return int(ring._words[self._index])

    def __set__(self, ring: Any, value: int) -> None:
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
