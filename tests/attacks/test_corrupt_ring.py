"""A corrupt or foreign ring (issue #12, item 5): frames after a bad one are found again or
counted, never reported written; impossible positions are repaired; a file that is not a
usable ring is moved aside and replaced, so the directory never becomes unusable."""

from __future__ import annotations

import logging
import os
import random
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parquet_logger_daemon import control

from parquet_logger import EventsLostError, ParquetLogger
from parquet_logger.transport.protocol import WriterStatus
from parquet_logger.transport.ring import HEADER_SIZE, MIN_CAPACITY, Ring, RingLock
from parquet_logger.transport.ring_frames import FRAME_HEADER, frame_size
from parquet_logger.transport.statedir import StateDir
from tests.conftest import WriterStarter
from tests.scenarios.producers import log_llm_start
from tests.support import read_rows, wait_for, writer_running

RING_BYTES = 1024 * 1024
SMALL = {"ring_size_bytes": RING_BYTES, "max_event_bytes": 64 * 1024}  # kind to /dev/shm
# Byte offsets of header words (see the layout table in ring.py).
HEAD_OFFSET, COMMITTED_OFFSET, CAPACITY_OFFSET = 64, 128, 16


# ----------------------------------------------------------------------------- helpers
def poke(path: Path, offset: int, raw: bytes) -> None:
    """Overwrite bytes of the ring file at a file offset, as a stray writer would."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, raw, offset)
    finally:
        os.close(fd)


def peek(path: Path, offset: int, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)


def frames(path: Path, head: int) -> list[tuple[int, int]]:
    """(position, body length) of each frame from 0 to `head` (a ring that never wrapped)."""
    found, pos = [], 0
    while pos < head:
        length = FRAME_HEADER.unpack(peek(path, HEADER_SIZE + pos, FRAME_HEADER.size))[0]
        found.append((pos, length))
        pos += frame_size(length)
    return found


def head_of(path: Path) -> int:
    return int(struct.unpack("<Q", peek(path, HEAD_OFFSET, 8))[0])


def new_ring(log_dir: Path) -> Path:
    """Create the directory's ring (small) without a writer; returns its path."""
    state = StateDir.for_log_dir(log_dir)
    state.ensure()
    ring = Ring.create_or_attach(state, RING_BYTES)
    path = ring.path
    ring.close()
    return path


def custom_ids(log_dir: Path) -> list[str]:
    rows = read_rows(log_dir)
    return [] if rows.empty else sorted(rows["custom_id"], key=int)


def status(log_dir: Path) -> WriterStatus:
    found = WriterStatus.read(StateDir.for_log_dir(log_dir).status)
    assert found is not None, "no status.json"
    return found


def quiet_logger(make_logger: Callable[..., ParquetLogger]) -> ParquetLogger:
    """A logger that starts no writer: its records wait in the ring for the test's writer."""
    return make_logger(**SMALL, start_writer=False, flush_interval_s=0.2)


# ----------------------------------------------------------------------------- framing
def test_a_2_31_length_frame_costs_only_itself(
    start_writer: WriterStarter, make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A published frame whose length field is 2**31 ahead of a producer's events: every
    event lands (the writer finds the framing again), the bad span is counted, and the
    producer's flush() succeeds, since none of its events were in it."""
    path = new_ring(log_dir)
    state = StateDir.for_log_dir(log_dir)
    lock = RingLock(state.ring_lock)
    assert lock.acquire(5.0)
    try:  # an 8-byte frame header published with no body, as a rogue process would
        poke(path, HEADER_SIZE, FRAME_HEADER.pack(1 << 31, 0))
        poke(path, HEAD_OFFSET, struct.pack("<Q", 8))
    finally:
        lock.release()
        lock.close()
    logger = quiet_logger(make_logger)
    for i in range(50):
        log_llm_start(logger, str(i))
    start_writer()
    logger.flush(timeout=30)
    assert custom_ids(log_dir) == [str(i) for i in range(50)]
    wait_for(lambda: status(log_dir).corrupt_frames == 1, 10, "the span counted in status")
    assert status(log_dir).corrupt_bytes == 8


def test_a_flipped_byte_costs_its_record_and_flush_says_so(
    start_writer: WriterStarter, make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A byte flipped in the middle of one record: that record is counted as corrupt, the
    others land, and the producer's flush() raises instead of reporting it written."""
    path = new_ring(log_dir)
    logger = quiet_logger(make_logger)
    for i in range(20):
        log_llm_start(logger, str(i))
    pos, length = frames(path, head_of(path))[7]
    middle = HEADER_SIZE + pos + FRAME_HEADER.size + length // 2
    poke(path, middle, bytes([peek(path, middle, 1)[0] ^ 0x20]))
    start_writer()
    with pytest.raises(EventsLostError, match=rf"positions {pos}\.\.{pos + frame_size(length)}"):
        logger.flush(timeout=30)
    assert custom_ids(log_dir) == [str(i) for i in range(20) if i != 7]
    wait_for(lambda: status(log_dir).corrupt_frames == 1, 10, "the record counted in status")
    log_llm_start(logger, "after")
    logger.flush(timeout=30)  # the loss was reported once; later events are fine


# ----------------------------------------------------------------------------- positions
def test_committed_past_head_at_writer_start_is_repaired(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A ring whose committed position is past its head when the writer starts: the writer
    skips past both, no event logged afterwards is lost, and the idle-exit writer exits."""
    path = new_ring(log_dir)
    poke(path, COMMITTED_OFFSET, struct.pack("<Q", 4096))
    logger = make_logger(**SMALL, queue_full_timeout_s=30.0)
    for i in range(100):
        log_llm_start(logger, str(i))
    logger.flush(timeout=30)
    assert custom_ids(log_dir) == [str(i) for i in range(100)]
    assert logger.stats()["dropped_events"] == 0
    logger.close(timeout=30)
    wait_for(lambda: not writer_running(log_dir), 15, "the idle-exit writer to exit")
    assert status(log_dir).corrupt_frames == 1


def test_committed_moved_under_a_running_writer_is_set_back(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """committed overwritten past head while the writer runs: the writer sets its own word
    back, nothing logged before or after is lost, and it still exits when idle."""
    logger = make_logger(**SMALL, queue_full_timeout_s=30.0)
    for i in range(10):
        log_llm_start(logger, str(i))
    logger.flush(timeout=30)
    path = StateDir.for_log_dir(log_dir).shm_ring
    poke(path, COMMITTED_OFFSET, struct.pack("<Q", head_of(path) + 4096))
    for i in range(10, 110):
        log_llm_start(logger, str(i))
    logger.flush(timeout=30)
    assert custom_ids(log_dir) == [str(i) for i in range(110)]
    logger.close(timeout=30)
    wait_for(lambda: not writer_running(log_dir), 15, "the idle-exit writer to exit")


# ----------------------------------------------------------------------------- unusable files
def garbage(ring: bytes) -> bytes:
    return random.Random(5).randbytes(len(ring))


def truncated(ring: bytes) -> bytes:
    return ring[: HEADER_SIZE + MIN_CAPACITY + 8]


def absurd_capacity(ring: bytes) -> bytes:
    return ring[:CAPACITY_OFFSET] + struct.pack("<Q", 1 << 60) + ring[CAPACITY_OFFSET + 8 :]


@pytest.mark.parametrize("damage", [garbage, truncated, absurd_capacity])
def test_an_unusable_ring_file_is_quarantined_and_replaced(
    make_logger: Callable[..., ParquetLogger],
    log_dir: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[bytes], bytes],
) -> None:
    """A ring file with a garbage header, truncated, or with an absurd capacity: a new
    ParquetLogger works, warning with both paths, and the bad file is kept (0600) in the
    state folder for inspection."""
    path = new_ring(log_dir)
    bad = damage(path.read_bytes())
    path.write_bytes(bad)
    caplog.set_level(logging.WARNING, logger="parquet_logger")
    logger = make_logger(**SMALL)
    log_llm_start(logger, "1")
    logger.flush(timeout=30)
    assert custom_ids(log_dir) == ["1"]
    state = StateDir.for_log_dir(log_dir)
    kept = list(state.root.glob("ring.quarantined-*"))
    assert len(kept) == 1
    assert kept[0].read_bytes() == bad
    assert os.stat(kept[0]).st_mode & 0o777 == 0o600
    warned = [r.getMessage() for r in caplog.records if "moved aside" in r.getMessage()]
    assert len(warned) == 1
    assert str(kept[0]) in warned[0]
    assert str(state.shm_ring) in warned[0]


def test_status_of_an_unusable_ring_says_why(log_dir: Path) -> None:
    """`parquet-logger-daemon status` on a directory whose ring file is garbage reports the
    problem instead of failing with a traceback."""
    path = new_ring(log_dir)
    path.write_bytes(garbage(path.read_bytes()))
    status_now = control.read_status(StateDir.for_log_dir(log_dir))
    assert "not a usable parquet-logger ring" in status_now["ring_error"]
    assert "ring error" in control.format_status(status_now)
    path.unlink()


# ----------------------------------------------------------------------------- fuzz
FUZZ_CAPACITY = 64 * 1024


def fuzz_body(number: int, length: int) -> bytes:
    return struct.pack("<I", number) + random.Random(number).randbytes(length - 4)


@settings(max_examples=300, deadline=None)
@given(
    lengths=st.lists(st.integers(4, 900), min_size=1, max_size=60),
    start=st.integers(0, FUZZ_CAPACITY // 8 - 1),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=8),
    chunk=st.integers(1, FUZZ_CAPACITY),
)
def test_random_byte_flips_never_duplicate_or_hide_a_record(
    lengths: list[int], start: int, flips: list[tuple[float, int]], chunk: int
) -> None:
    """Random bytes flipped in a ring of N records (wrapping around its end): every record
    whose bytes are intact is read exactly once, every damaged one lies in a skipped span,
    nothing else is ever returned, and reading always reaches head."""
    with tempfile.TemporaryDirectory() as tmp:
        state = StateDir.for_log_dir(Path(tmp) / "logs")
        state.ensure()
        ring = Ring.create_or_attach(state, FUZZ_CAPACITY)
        lock = RingLock(state.ring_lock)
        try:
            # Start anywhere in the data area: move head and committed there, as after laps.
            poke(ring.path, HEAD_OFFSET, struct.pack("<Q", start * 8))
            ring.commit(start * 8)
            placed = []
            for number, length in enumerate(lengths):
                pos = ring.head
                if not ring.put(fuzz_body(number, length), lock, 0.0):
                    break  # the ring is full
                placed.append((pos, pos + FRAME_HEADER.size + length))
            first, head = start * 8, ring.head
            changes: dict[int, int] = {}  # position -> xor (two flips of one byte may cancel)
            for where, xor in flips:
                hit = first + int(where * (head - first))
                changes[hit] = changes.get(hit, 0) ^ xor
            hits = [hit for hit, xor in changes.items() if xor]
            for hit in hits:
                offset = HEADER_SIZE + hit % FUZZ_CAPACITY
                poke(ring.path, offset, bytes([peek(ring.path, offset, 1)[0] ^ changes[hit]]))
            got: list[bytes] = []
            skipped: list[tuple[int, int]] = []
            pos = first
            while pos < head:
                bodies, pos, spans = ring.read(pos, chunk)
                got += [bytes(b) for b in bodies]
                skipped += spans
            assert pos == head
            numbers = [struct.unpack_from("<I", body)[0] for body in got]
            assert len(numbers) == len(set(numbers)), "a record was read twice"
            for number, body in zip(numbers, got, strict=True):
                assert body == fuzz_body(number, lengths[number]), "a damaged body was returned"
            for number, (begin, end) in enumerate(placed):
                damaged = any(begin <= hit < end for hit in hits)
                assert (number in numbers) != damaged, f"record {number}, damaged: {damaged}"
                if damaged:
                    assert any(s < end and e > begin for s, e in skipped)
        finally:
            lock.close()
            ring.unlink()
            ring.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_writer_drains_a_fuzzed_ring_without_crashing(
    start_writer: WriterStarter,
    make_logger: Callable[..., ParquetLogger],
    log_dir: Path,
    seed: int,
) -> None:
    """A real writer over a ring with random bytes flipped: it keeps running, every intact
    event lands once, and flush() raises exactly when one of its events was damaged."""
    path = new_ring(log_dir)
    logger = quiet_logger(make_logger)
    for i in range(60):
        log_llm_start(logger, str(i))
    head = head_of(path)
    placed = frames(path, head)
    rng = random.Random(seed)
    hits = rng.sample(range(head), rng.randint(1, 6))
    for hit in hits:
        poke(path, HEADER_SIZE + hit, bytes([peek(path, HEADER_SIZE + hit, 1)[0] ^ 0x81]))
    damaged = {
        i for i, (pos, length) in enumerate(placed) for hit in hits if pos <= hit < pos + 8 + length
    }
    writer = start_writer()
    if damaged:
        with pytest.raises(EventsLostError):
            logger.flush(timeout=30)
    else:
        logger.flush(timeout=30)
    assert custom_ids(log_dir) == [str(i) for i in range(60) if i not in damaged]
    assert writer.poll() is None, "the writer exited"
