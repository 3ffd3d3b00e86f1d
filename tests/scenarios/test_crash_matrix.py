"""What survives which failure: unrelated producer scripts, SIGKILLed writers and producers,
and a writer that dies between writing its files and committing the ring. Every scenario
ends with exact row counts and no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import StateDir
from tests.support import kill_and_reap, read_rows, run_python, wait_for, writer_pid, writer_running

pytestmark = pytest.mark.slow

PRODUCER = """
    import sys, uuid
    from parquet_logger import ParquetLogger
    log_dir, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logger = ParquetLogger(log_dir, flush_interval_s=0.2)
    for i in range(count):
        logger.on_llm_start({"name": "m"}, [f"{name} {i}"], run_id=uuid.uuid4(),
                            tags=[f"logger_custom_id:{name}-{i}"])
        if i % 500 == 0:
            print(i, flush=True)  # progress, read by the test
    print("done", flush=True)
    if len(sys.argv) > 4:  # stay attached until killed
        sys.stdin.read()
"""


@pytest.fixture
def producers(log_dir: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Separate producer scripts (not a pool): each is killed and reaped at teardown."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    kill_and_reap(procs)


def start_producer(
    procs: list[subprocess.Popen[str]], log_dir: Path, name: str, count: int, linger: bool = False
) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", textwrap.dedent(PRODUCER), str(log_dir), name, str(count)]
    proc = subprocess.Popen(
        [*args, "linger"] if linger else args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    return proc


def wait_line(proc: subprocess.Popen[str], wanted: str) -> None:
    """Read the producer's progress lines until `wanted` (a barrier, not a sleep)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == wanted:
            return
    raise AssertionError(f"producer ended before printing {wanted!r}")


def assert_exactly_once(log_dir: Path, names: dict[str, int]) -> None:
    df = read_rows(log_dir)
    assert df["event_id"].is_unique
    assert df["run_id"].is_unique
    for name, count in names.items():
        ids = df["custom_id"][df["custom_id"].str.startswith(f"{name}-")]
        assert ids.nunique() == len(ids) == count, name


def test_unrelated_scripts_share_one_writer(log_dir, producers):
    """Three separate scripts log into one directory through one writer."""
    procs = [start_producer(producers, log_dir, f"s{i}", 3000) for i in range(3)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    assert_exactly_once(log_dir, {"s0": 3000, "s1": 3000, "s2": 3000})
    pids = set(read_rows(log_dir)["pid"])
    assert pids == {p.pid for p in procs}


def test_writer_sigkilled_during_a_burst_is_replaced(log_dir, producers):
    """The writer dies mid-burst: producers keep logging into the ring, a watchdog starts a
    new writer within about a second, and every event lands exactly once."""
    burst = [start_producer(producers, log_dir, f"b{i}", 20000, linger=True) for i in range(2)]
    wait_line(burst[0], "1000")
    wait_for(lambda: writer_pid(log_dir) is not None, 15, "the writer's status file")
    first = writer_pid(log_dir)
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(
        lambda: writer_pid(log_dir) not in (None, first) and writer_running(log_dir),
        10,
        "a replacement writer",
    )
    for proc in burst:
        wait_line(proc, "done")
        assert proc.stdin is not None
        proc.stdin.close()  # let it exit: its atexit flush waits for its events
        assert proc.wait(timeout=120) == 0
    assert_exactly_once(log_dir, {"b0": 20000, "b1": 20000})


def test_writer_and_producer_both_sigkilled_then_a_new_writer_drains(log_dir, producers):
    """Both sides die with records still in the ring; the next writer writes them all."""
    proc = start_producer(producers, log_dir, "k", 5000, linger=True)
    wait_line(proc, "done")  # every callback has returned: the records are in the ring
    # The producer's writer may still be starting on a busy machine: it must be caught, or it
    # would start after the kills below, drain the ring and remove it.
    wait_for(lambda: writer_pid(log_dir) is not None, 30, "the producer's writer")
    pid = writer_pid(log_dir)
    assert pid is not None
    # Frozen first: a writer that saw its last producer die could drain the ring and exit
    # cleanly (removing it) before the kill below; a stopped one still holds its lock, so the
    # producer's watchdog cannot start another writer either.
    os.kill(pid, signal.SIGSTOP)
    proc.kill()
    proc.wait(timeout=10)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not writer_running(log_dir), 10, "the writer to be dead")
    assert StateDir.for_log_dir(log_dir).shm_ring.exists(), "the ring must outlive both"

    with ParquetLogger(log_dir) as logger:  # starts a writer, which drains the old ring
        logger.on_llm_start(
            {"name": "m"}, ["last"], run_id=uuid.uuid4(), tags=["logger_custom_id:last-0"]
        )
        logger.flush(timeout=60)  # our event is after all of the old ones in the ring
    assert_exactly_once(log_dir, {"k": 5000, "last": 1})


@pytest.mark.parametrize("crash_point", ["after_journal", "after_rename"])
def test_writer_killed_between_files_and_commit(start_writer, make_logger, log_dir, crash_point):
    """A writer dying after its files are journalled (or renamed) but before the ring commit:
    the next writer finishes that commit, so nothing is written twice or lost."""
    logger = make_logger(start_writer=False)
    for i in range(400):
        logger.on_llm_start(
            {"name": "m"}, ["p"], run_id=uuid.uuid4(), tags=[f"logger_custom_id:c-{i}"]
        )
    patch = {
        "after_journal": "journal.write = die_after(journal.write)",
        "after_rename": "Ring.commit = die_after(lambda self, pos: None)",
    }[crash_point]
    crashing = f"""
        import os, sys
        import parquet_logger_daemon.journal as journal
        from parquet_logger.transport.ring import Ring
        def die_after(step):
            def run(*args):
                step(*args)
                os._exit(9)
            return run
        {patch}
        from parquet_logger_daemon.cli import main
        # Nobody flushes: a short interval makes this writer commit on its own.
        sys.exit(main(["run", "--dir", {str(log_dir)!r}, "--flush-interval-s", "0.1"]))
    """
    result = run_python(crashing)
    assert result.returncode == 9, result.stderr
    if crash_point == "after_rename":
        assert len(read_rows(log_dir)) == 400  # visible, but the ring was not committed
    start_writer("--exit-when-idle")
    logger.flush(timeout=30)
    for i in range(400, 500):
        logger.on_llm_start(
            {"name": "m"}, ["p"], run_id=uuid.uuid4(), tags=[f"logger_custom_id:c-{i}"]
        )
    logger.flush(timeout=30)
    assert_exactly_once(log_dir, {"c": 500})
    assert not list(log_dir.rglob("*.tmp"))
