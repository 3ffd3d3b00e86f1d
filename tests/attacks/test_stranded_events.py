"""Events never wait in /dev/shm for a writer that will not come (issue #12, items 2-4, 6)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from parquet_logger_daemon import control

from parquet_logger.errors import EventsLostError
from parquet_logger.transport.ring import Ring
from parquet_logger.transport.ring_header import HEADER_SIZE
from parquet_logger.transport.statedir import StateDir, open_private
from tests.support import (
    drain_argv,
    kill_and_reap,
    read_rows,
    stop_writer,
    wait_for,
    writer_pid,
    writer_running,
)

pytestmark = pytest.mark.slow

LOG_AND_FLUSH = """
    import sys
    from parquet_logger import ParquetLogger
    log_dir, count = sys.argv[1], int(sys.argv[2])
    logger = ParquetLogger(log_dir, flush_interval_s=0.1)
    for i in range(count):
        logger.log_event("custom_event", {"i": i}, custom_id=f"late-{i}")
    logger.flush(timeout=float(sys.argv[3]))
    print("flushed", flush=True)
"""


def log_in_new_process(log_dir: Path, count: int, flush_timeout: float = 30.0) -> str:
    """A separate producer script logs `count` events and flushes; returns its stdout."""
    argv = [str(log_dir), str(count), str(flush_timeout)]
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LOG_AND_FLUSH), *argv],
        capture_output=True,
        text=True,
        timeout=flush_timeout + 60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_ring_unlinked_under_a_live_writer_strands_nothing(log_dir, make_logger):
    """A /dev/shm cleaner (or logind's RemoveIPC) unlinks the ring while a writer serves it:
    the writer notices, finishes the old ring and serves the new one; the events of a new
    producer and of the producer still on the old mapping all land, once."""
    first = make_logger(flush_interval_s=0.1)
    first.log_event("custom_event", {"i": "before"})
    first.flush(timeout=30)
    StateDir.for_log_dir(log_dir).shm_ring.unlink()
    log_in_new_process(log_dir, 100)
    first.log_event("custom_event", {"i": "after"})
    first.flush(timeout=30)
    rows = read_rows(log_dir)
    assert len(rows) == 102
    assert rows["event_id"].is_unique


def holds_open(pid: int, path: str) -> bool:
    """Process `pid` has `path` open."""
    with contextlib.suppress(OSError):
        fds = Path(f"/proc/{pid}/fd")
        return any(os.readlink(fd) == path for fd in fds.iterdir())
    return False


@pytest.fixture
def held_probe(log_dir: Path) -> Iterator[threading.Event]:
    """Hold the writer lock shared, as a liveness probe does, until the event is set."""
    state = StateDir.for_log_dir(log_dir)
    state.ensure()
    fd = open_private(state.writer_lock)
    fcntl.flock(fd, fcntl.LOCK_SH)
    release = threading.Event()

    def let_go() -> None:
        release.wait(30)
        fcntl.flock(fd, fcntl.LOCK_UN)

    thread = threading.Thread(target=let_go)
    thread.start()
    yield release
    release.set()
    thread.join()
    os.close(fd)


def test_writer_starting_during_a_liveness_probe_is_not_refused(log_dir, held_probe):
    """A writer that starts while a probe holds its lock shared waits for the probe to let
    go instead of exiting with "another writer is already running" (exit code 3)."""
    proc = subprocess.Popen(
        drain_argv(log_dir),
        stderr=subprocess.PIPE,
    )
    try:
        lock = str(StateDir.for_log_dir(log_dir).writer_lock)
        wait_for(
            lambda: proc.poll() is not None or holds_open(proc.pid, lock),
            30,
            "the writer to open its lock",
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.5)  # a writer that refuses exits right after its one try
        held_probe.set()
        wait_for(lambda: writer_running(log_dir) or proc.poll() is not None, 20, "the writer")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.terminate()
        proc.wait(30)
    stop_writer(log_dir)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test (root only), unmounted at teardown."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` to the last byte; returns the filler file."""
    filler = disk / "filler"
    with open(filler, "wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def test_writer_started_on_a_full_disk_retries_and_says_why(small_disk):
    """The disk is full when the writer starts: it does not die; flush()'s TimeoutError says
    the disk is full; once space returns every event lands."""
    log_dir = small_disk / "logs"
    StateDir.for_log_dir(log_dir).ensure()
    filler = fill(small_disk)
    from parquet_logger import ParquetLogger

    logger = ParquetLogger(log_dir, flush_interval_s=0.1)
    try:
        for i in range(2000):
            logger.log_event("custom_event", {"i": i})
        with pytest.raises(TimeoutError, match="No space left on device"):
            logger.flush(timeout=5)
        assert writer_running(log_dir)
        status = control.read_status(StateDir.for_log_dir(log_dir))
        assert "No space left on device" in status["writes_failing"]
        filler.unlink()
        logger.flush(timeout=60)
    finally:
        logger.close(timeout=30)
        stop_writer(log_dir)
    assert len(read_rows(log_dir)) == 2000


STAY_ON_THE_RING = """
    import sys
    import pyarrow.dataset as ds
    from parquet_logger import ParquetLogger
    logger = ParquetLogger(sys.argv[1], flush_interval_s=0.1, atexit_timeout_s=30)
    for i in range(int(sys.argv[2])):
        logger.log_event("custom_event", {"i": i}, custom_id=f"idle-{i}")
    print(logger._attachment.ring.path.stat().st_ino, flush=True)
    sys.stdin.readline()  # logs nothing more
    logger.flush(timeout=60)
    ids = ds.dataset(sys.argv[1], partitioning="hive").to_table().column("custom_id")
    print(sum(1 for i in ids.to_pylist() if i.startswith("idle-")), "written", flush=True)
"""


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """Keep process `pid` stopped (SIGSTOP) inside the block, whatever happens."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def log_until_moved(logger, ring, custom_id: str) -> int:
    """Log into `logger` until its watchdog has left `ring` (removed) for the ring now at
    the ring's path; returns how many events were logged."""
    count = 0

    def moved() -> bool:
        nonlocal count
        logger.log_event("custom_event", {"i": count}, custom_id=f"{custom_id}-{count}")
        count += 1
        current = logger._attachment.ring
        return current is not ring and not current.replaced()

    wait_for(moved, 30, "the logger to move to the ring at the path")
    return count


@contextlib.contextmanager
def moved_to_a_second_ring(logger, log_dir: Path) -> Iterator[tuple[Ring, Path, int]]:
    """Inside the block the writer is stopped, standing for one that a busy machine did not
    run for a second (it cannot switch to ring #2 before the test removes #2 too): the
    logger's first event was written, its ring removed, and the logger moved to a ring #2
    at the path. Yields #2, the ring's path and how many events the logger has logged."""
    logger.log_event("custom_event", {"i": "before"})
    logger.flush(timeout=30)
    path = StateDir.for_log_dir(log_dir).shm_ring
    writer = writer_pid(log_dir)
    assert writer is not None
    with stopped(writer):
        ring1 = logger._attachment.ring
        path.unlink()
        logged = 1 + log_until_moved(logger, ring1, "on-1")
        yield logger._attachment.ring, path, logged


@pytest.fixture
def idle_producer(log_dir: Path) -> Iterator[Callable[[int], subprocess.Popen[str]]]:
    """Start producer processes that log `count` events, print the inode of their ring and
    then log nothing more; told to, they flush and print how many of their events are
    written. Any still running at teardown is killed."""
    procs: list[subprocess.Popen[str]] = []

    def start(count: int) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(STAY_ON_THE_RING), str(log_dir), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    kill_and_reap(procs)


def test_ring_removed_twice_before_the_writer_switches_strands_nothing(
    log_dir, make_logger, idle_producer
):
    """The ring is removed, a producer moves to a new ring #2 at the path, and #2 is removed
    too before the writer has left the first one: the writer then serves #3, never #2. The
    records put into #2, by a producer that logs on and by one that never logs again, land
    all the same, once, and every flush returns."""
    first = make_logger(flush_interval_s=0.1)
    with moved_to_a_second_ring(first, log_dir) as (ring2, path, logged):
        for i in range(50):
            first.log_event("custom_event", {"i": i}, custom_id=f"on-2-{i}")
        idle = idle_producer(40)
        assert idle.stdout is not None
        assert int(idle.stdout.readline()) == inode_at(path)  # the idle producer is on #2
        path.unlink()
        logged += 50 + 40 + log_until_moved(first, ring2, "on-3")
        # Its flush starts before the writer can have written its events, wherever they are.
        assert idle.stdin is not None
        idle.stdin.write("flush\n")
        idle.stdin.flush()
    assert "flushed" in log_in_new_process(log_dir, 100)
    logged += 100
    first.flush(timeout=60)
    out, err = idle.communicate(timeout=90)
    assert idle.returncode == 0, err[-3000:]
    assert "40 written" in out, err[-3000:]  # its flush returned once they were written
    assert ring2.writer_pid == 0  # no writer ever served #2: its records were moved
    rows = read_rows(log_dir)
    assert rows["event_id"].is_unique
    assert len(rows) == logged, rows["custom_id"].str.rsplit("-", n=1).str[0].value_counts()


def inode_at(path: Path) -> int | None:
    """The inode `path` names now, or None."""
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_ino
    return None


LOG_FOR_A_WHILE = """
    import sys, time
    from parquet_logger import ParquetLogger
    logger = ParquetLogger(sys.argv[1], flush_interval_s=0.1)
    tag, count = sys.argv[2], int(sys.argv[3])
    for i in range(count):
        logger.log_event("custom_event", {"i": i}, custom_id=f"{tag}-{i}")
        if i % 50 == 0:
            time.sleep(0.02)
    logger.flush(timeout=45)
    print("flushed", flush=True)
"""


def test_a_cleaner_that_removes_the_ring_again_and_again_strands_nothing(log_dir, make_logger):
    """A /dev/shm cleaner removes the ring every 0.3 s while three producer processes log:
    rings are removed before the writer serves them and after it left them; every event
    lands once and every flush returns."""
    make_logger(flush_interval_s=0.1).flush(timeout=30)  # the writer runs
    path = StateDir.for_log_dir(log_dir).shm_ring
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(LOG_FOR_A_WHILE), str(log_dir), f"p{n}", "4000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    removals = 0
    try:
        while any(proc.poll() is None for proc in procs) and removals < 40:
            if path.exists():
                path.unlink()
                removals += 1
            time.sleep(0.3)
        results = [proc.communicate(timeout=90) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "flushed" in out, err[-3000:]
    assert removals >= 3
    rows = read_rows(log_dir)
    assert rows["event_id"].is_unique
    assert len(rows) == 3 * 4000, rows["custom_id"].str.split("-").str[0].value_counts()


def test_a_corrupt_record_in_an_orphan_is_reported_lost(log_dir, make_logger):
    """A record damaged in a ring removed before the writer served it is not moved: flush()
    raises EventsLostError for it, and every other event lands once."""
    logger = make_logger(flush_interval_s=0.1)
    with moved_to_a_second_ring(logger, log_dir) as (ring2, path, logged):
        for i in range(20):
            logger.log_event("custom_event", {"i": i}, custom_id=f"on-2-{i}")
        assert ring2.head > 0  # its first record is one of this process's
        fd = os.open(path, os.O_RDWR)
        try:  # a stray write flips one byte of the first record's body
            offset = HEADER_SIZE + 8 + 3
            os.pwrite(fd, bytes([os.pread(fd, 1, offset)[0] ^ 0x20]), offset)
        finally:
            os.close(fd)
        path.unlink()
        logged += 20 + log_until_moved(logger, ring2, "on-3")
    with pytest.raises(EventsLostError, match="corrupt"):
        logger.flush(timeout=60)
    rows = read_rows(log_dir)
    assert rows["event_id"].is_unique
    assert len(rows) == logged - 1
