"""The writer's engine against a fake exporter: a real ring, no writer process, no files."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import orjson
import pytest
from parquet_logger_daemon.engine import SEAL_ROWS, Engine
from parquet_logger_daemon.exporter import Batch, Exported, Exporter, PartitionBuffer
from parquet_logger_daemon.flush_policy import Action, FlushPolicy
from parquet_logger_daemon.status import Counters

from parquet_logger.transport import wire
from parquet_logger.transport.ring import Ring, RingLock
from parquet_logger.transport.statedir import StateDir

CAPACITY = 1024 * 1024
POLICY = FlushPolicy(flush_interval_s=3600.0, max_file_bytes=CAPACITY)


class FakeExporter:
    """Keeps exported records in memory and checks the write-ahead order against the ring."""

    def __init__(self, ring: Ring) -> None:
        self.ring = ring
        self.rows: list[tuple[str, int]] = []  # (partition, record number), in export order
        self.ahead: list[tuple[str, int]] = []  # taken by write_ahead, not yet exported
        self.exports: list[int] = []  # batch ends
        self.commits: list[int] = []  # ends seen by committed()
        self.fail_next = False
        self.recovered: Exported | None = None

    def recover(self, committed: int) -> Exported | None:
        return self.recovered

    def write_ahead(self, chunk: Mapping[str, PartitionBuffer]) -> None:
        self.ahead += _numbered(chunk)

    def export(self, batch: Batch) -> Exported:
        assert self.ring.committed < batch.end, "the ring was committed before the export"
        if self.fail_next:
            self.fail_next = False
            self.ahead = []  # a failed export drops what was taken ahead, as Parquet does
            raise OSError("disk full")
        rows = [*self.ahead, *_numbered(batch.partitions)]
        self.ahead = []
        self.rows += rows
        self.exports.append(batch.end)
        return Exported(batch.end, [], len(rows))

    def committed(self, exported: Exported) -> None:
        assert self.ring.committed == exported.end, "committed() before the ring commit"
        self.commits.append(exported.end)

    def close(self, timeout_s: float) -> bool:
        return True


def _numbered(partitions: Mapping[str, PartitionBuffer]) -> list[tuple[str, int]]:
    return [
        (partition, orjson.loads(bytes(meta))["pid"])
        for partition, buf in partitions.items()
        for meta in buf.metas
    ]


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[Ring]:
    """A fresh ring for a log directory under tmp_path, removed at teardown."""
    state = StateDir.for_log_dir(tmp_path / "logs")
    state.ensure()
    ring = Ring.create_or_attach(state, CAPACITY)
    yield ring
    ring.unlink()
    ring.close()


@pytest.fixture
def lock(tmp_path: Path) -> Iterator[RingLock]:
    """The producers' ring lock of the `ring` fixture's directory."""
    lock = RingLock(StateDir.for_log_dir(tmp_path / "logs").ring_lock)
    yield lock
    lock.close()


def put(ring: Ring, lock: RingLock, numbers: range, partition: str = "date=2026-01-01") -> None:
    """Publish one record per number, the number carried in the meta's `pid`."""
    for n in numbers:
        meta = {"timestamp": 1, "event_type": "llm_start", "pid": n}
        assert ring.put(wire.encode(partition, meta, b"{}"), lock, 1.0)


def make_engine(ring: Ring) -> tuple[Engine, FakeExporter]:
    fake = FakeExporter(ring)
    exporter: Exporter = fake  # the fake satisfies the protocol
    return Engine(ring, exporter, POLICY, Counters()), fake


def test_flush_exports_then_commits(ring: Ring, lock: RingLock) -> None:
    """Records drained from the ring are exported in order, then the ring is committed."""
    put(ring, lock, range(5))
    engine, fake = make_engine(ring)
    assert engine.drain() == 5
    assert engine.flush()
    assert fake.rows == [("date=2026-01-01", n) for n in range(5)]
    assert fake.exports == fake.commits == [ring.head]
    assert ring.committed == ring.head
    assert engine.counters.written == 5
    assert engine.counters.flushes == 1


def test_failed_export_leaves_the_records_in_the_ring(ring: Ring, lock: RingLock) -> None:
    """A failed export commits nothing; the records are read again and exported exactly once."""
    put(ring, lock, range(7))
    engine, fake = make_engine(ring)
    engine.drain()
    fake.fail_next = True
    assert not engine.flush()
    assert ring.committed == 0
    assert engine.counters.write_errors == 1
    assert "disk full" in engine.counters.last_error
    # The back-off holds every write, even a requested one.
    ring.request_flush(lock)
    assert engine.step(hup=False, stopping=False) == (7, Action.WAIT)  # read again, held
    assert fake.rows == []
    assert engine.write_everything()
    assert fake.rows == [("date=2026-01-01", n) for n in range(7)]
    assert ring.committed == ring.head


def test_a_flush_request_is_served_by_the_loop(ring: Ring, lock: RingLock) -> None:
    """A producer's flush request makes the engine's passes commit what it published."""
    engine, fake = make_engine(ring)
    engine.step(hup=False, stopping=False)  # the writer has looked at the request counter
    put(ring, lock, range(3))
    ring.request_flush(lock)
    deadline = time.monotonic() + 10
    while ring.committed < ring.head:
        assert time.monotonic() < deadline, "the request was not served"
        engine.step(hup=False, stopping=False)
    assert [n for _, n in fake.rows] == [0, 1, 2]


def test_full_chunks_are_handed_over_ahead_of_the_flush(ring: Ring, lock: RingLock) -> None:
    """A partition with SEAL_ROWS records goes to write_ahead; the flush exports the rest."""
    put(ring, lock, range(SEAL_ROWS), partition="date=2026-01-01")
    put(ring, lock, range(SEAL_ROWS, SEAL_ROWS + 2), partition="date=2026-01-02")
    engine, fake = make_engine(ring)
    engine.drain()
    engine.seal()
    assert len(fake.ahead) == SEAL_ROWS
    assert {partition for partition, _ in fake.ahead} == {"date=2026-01-01"}
    assert ring.committed == 0  # taken ahead is not durable yet
    assert engine.flush()
    assert sorted(n for _, n in fake.rows) == list(range(SEAL_ROWS + 2))
    assert engine.counters.written == SEAL_ROWS + 2


def test_recovery_commits_what_the_exporter_finished(ring: Ring, lock: RingLock) -> None:
    """A batch the exporter recovered is committed, and the engine resumes after it."""
    put(ring, lock, range(4))
    engine, fake = make_engine(ring)
    fake.recovered = Exported(ring.head, [], 0)
    engine.recover()
    assert ring.committed == ring.head
    assert fake.commits == [ring.head]
    assert engine.drain() == 0
    put(ring, lock, range(4, 6))
    assert engine.drain() == 2


def test_stop_is_left_to_the_caller(ring: Ring, lock: RingLock) -> None:
    """On a stop signal a pass reads but writes nothing; write_everything then commits all."""
    put(ring, lock, range(3))
    engine, fake = make_engine(ring)
    assert engine.step(hup=False, stopping=True) == (3, Action.STOP)
    assert fake.rows == []
    assert engine.write_everything()
    assert ring.committed == ring.head
    assert len(fake.rows) == 3
