"""Orphans: a removed ring no writer serves has its records moved into the ring at the path,
byte for byte and exactly once, and a writer's claim and a move never both take them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from parquet_logger.transport.ring import Ring, RingLock, frame_size
from parquet_logger.transport.statedir import StateDir
from tests.test_ring import CAPACITY, body_for, poke

pytestmark = pytest.mark.usefixtures("no_ring_left")


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    """A log directory's state folder."""
    state = StateDir.for_log_dir(tmp_path / "logs")
    state.ensure()
    return state


@pytest.fixture
def no_ring_left(state: StateDir) -> Iterator[None]:
    """Remove whatever ring a test leaves at the path."""
    yield
    state.shm_ring.unlink(missing_ok=True)


@pytest.fixture
def lock(state: StateDir) -> Iterator[RingLock]:
    """This process's handle on the ring lock."""
    lock = RingLock(state.ring_lock)
    yield lock
    lock.close()


def orphan_with(state: StateDir, lock: RingLock, bodies: list[bytes]) -> Ring:
    """A ring holding `bodies`, then removed from its path, never served by a writer."""
    ring = Ring.create_or_attach(state, CAPACITY)
    for body in bodies:
        assert ring.put(body, lock, 0.0)
    ring.path.unlink()
    return ring


def read_all(ring: Ring) -> list[bytes]:
    bodies, _, skipped = ring.read(ring.committed, 2 * CAPACITY)
    assert skipped == []
    return [bytes(body) for body in bodies]


def test_orphan_records_move_into_the_ring_at_the_path_byte_for_byte(
    state: StateDir, lock: RingLock
) -> None:
    """Every record moves, in order and unchanged; the orphan counts them committed and
    names where they went; a second move finds nothing."""
    bodies = [body_for(1, seq, 10 + seq * 37) for seq in range(40)]
    orphan = orphan_with(state, lock, bodies)
    dest = Ring.create_or_attach(state, CAPACITY)
    assert dest.put(b"already there", lock, 0.0)
    assert orphan.orphaned()
    moved = orphan.salvage_into(dest, lock, 1.0)
    assert moved is not None
    assert (moved.records, moved.end) == (40, dest.head)
    assert read_all(dest) == [b"already there", *bodies]
    assert orphan.committed == orphan.head
    assert (orphan.salvaged_into, orphan.salvaged_until) == (dest.ring_id, dest.head)
    assert dest.last_put_end == dest.head  # this process's flush waits for them
    assert orphan.salvage_into(dest, lock, 1.0) is None


def test_a_corrupt_frame_is_counted_lost_and_not_moved(state: StateDir, lock: RingLock) -> None:
    """A frame whose CRC fails is skipped alone and logged in the orphan, where the flush of
    a producer whose records may be in it finds it; the others move."""
    bodies = [body_for(2, seq, 300) for seq in range(4)]
    ring = Ring.create_or_attach(state, CAPACITY)
    for body in bodies:
        assert ring.put(body, lock, 0.0)
    second = frame_size(300)
    poke(ring, second + 8 + 17, bytes([bodies[1][17] ^ 0x01]))
    ring.path.unlink()
    dest = Ring.create_or_attach(state, CAPACITY)
    moved = ring.salvage_into(dest, lock, 1.0)
    assert moved is not None
    assert moved.records == 3
    assert read_all(dest) == [bodies[0], *bodies[2:]]
    assert ring.committed == ring.head
    assert ring.skipped_spans() == (1, [(second, 2 * second)])
    assert ring.skipped_among_puts(ring.last_put_end) == (second, 2 * second)


def test_records_wait_for_room_in_the_ring_at_the_path(state: StateDir, lock: RingLock) -> None:
    """What does not fit waits until the writer commits there; then the rest moves."""
    bodies = [body_for(3, seq, 1000) for seq in range(40)]
    orphan = orphan_with(state, lock, bodies)
    dest = Ring.create_or_attach(state, CAPACITY)
    filler = body_for(9, 0, CAPACITY - 8 - 20 * frame_size(1000))
    assert dest.put(filler, lock, 0.0)
    first = orphan.salvage_into(dest, lock, 1.0)
    assert first is not None
    assert first.records == 20
    assert orphan.salvage_into(dest, lock, 1.0) is None  # full
    moved_so_far = read_all(dest)[1:]
    dest.commit(dest.head)
    second = orphan.salvage_into(dest, lock, 1.0)
    assert second is not None
    assert second.records == 20
    assert moved_so_far + read_all(dest) == bodies
    assert orphan.committed == orphan.head


def test_a_ring_a_writer_claimed_is_never_moved(state: StateDir, lock: RingLock) -> None:
    """A writer that claimed the ring at its path serves it after its removal too."""
    ring = Ring.create_or_attach(state, CAPACITY)
    assert ring.put(b"mine", lock, 0.0)
    assert ring.claim(lock, 1.0)
    ring.path.unlink()
    dest = Ring.create_or_attach(state, CAPACITY)
    assert not ring.orphaned()
    assert ring.salvage_into(dest, lock, 1.0) is None
    assert ring.committed == 0
    assert dest.head == 0


def test_a_writer_gives_back_a_ring_removed_before_its_claim(
    state: StateDir, lock: RingLock
) -> None:
    """A writer that attached just before the removal does not serve the ring: its claim
    fails and its pid is taken back, so a producer moves the records."""
    orphan = orphan_with(state, lock, [b"a", b"b"])
    assert not orphan.claim(lock, 1.0)
    assert orphan.writer_pid == 0
    dest = Ring.create_or_attach(state, CAPACITY)
    moved = orphan.salvage_into(dest, lock, 1.0)
    assert moved is not None
    assert moved.records == 2


def race_a_claim_and_a_move(state: StateDir, tag: int) -> tuple[int, int]:
    """A writer claims a ring of 5 records as a producer removes it and moves them: how many
    the producer moved (after one more try, its next watchdog period), and how many the
    writer would read if its claim held (-1 if it was given back)."""
    producer_lock, writer_lock = RingLock(state.ring_lock), RingLock(state.ring_lock)
    ring = Ring.create_or_attach(state, CAPACITY)
    writer_view = Ring.attach(state)
    assert writer_view is not None
    for seq in range(5):
        assert ring.put(body_for(tag, seq, 64), producer_lock, 0.0)
    dest_holder: list[Ring] = []
    claimed: list[int] = []
    start = threading.Barrier(2)

    def writer() -> None:
        start.wait()
        if writer_view.claim(writer_lock, 1.0):
            claimed.append((writer_view.head - writer_view.committed) // frame_size(64))

    def producer() -> None:
        start.wait()
        ring.path.unlink()
        dest_holder.append(Ring.create_or_attach(state, CAPACITY))
        ring.salvage_into(dest_holder[0], producer_lock, 1.0)

    threads = [threading.Thread(target=writer), threading.Thread(target=producer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    dest = dest_holder[0]
    ring.salvage_into(dest, producer_lock, 1.0)
    moved = (dest.head - dest.committed) // frame_size(64)
    for mapped in (ring, writer_view, dest):
        mapped.close()
    dest.path.unlink()
    producer_lock.close()
    writer_lock.close()
    return moved, claimed[0] if claimed else -1


def test_a_claim_and_a_move_racing_take_the_records_once(state: StateDir) -> None:
    """In every round exactly one of a writer's claim and a producer's move gets the records
    of a ring removed at that moment: never both, never neither (a claim given back leaves
    them to the producer's next try)."""
    for tag in range(150):
        moved, in_writer = race_a_claim_and_a_move(state, tag)
        assert moved + max(in_writer, 0) == 5, f"round {tag}: moved {moved}, writer {in_writer}"


def test_two_producers_moving_one_orphan_move_each_record_once(state: StateDir) -> None:
    """Two producers that left the same orphan both move it at once, each through its own
    mappings and lock: every record arrives once, in order."""
    bodies = [body_for(5, seq, 200 + seq % 50) for seq in range(200)]
    locks = [RingLock(state.ring_lock), RingLock(state.ring_lock)]
    first = Ring.create_or_attach(state, CAPACITY)
    for body in bodies:
        assert first.put(body, locks[0], 0.0)
    orphans = [first, Ring.attach(state)]
    first.path.unlink()
    dests = [Ring.create_or_attach(state, CAPACITY), Ring.attach(state)]
    start = threading.Barrier(2)

    def move(i: int) -> None:
        orphan, dest = orphans[i], dests[i]
        assert orphan is not None
        assert dest is not None
        start.wait()
        while orphan.committed < orphan.head:
            orphan.salvage_into(dest, locks[i], 1.0)

    threads = [threading.Thread(target=move, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert dests[0] is not None
    assert read_all(dests[0]) == bodies
    for lock in locks:
        lock.close()
