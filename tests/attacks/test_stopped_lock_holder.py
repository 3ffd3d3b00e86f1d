"""A producer stopped while it holds the ring lock (SIGSTOP, a debugger, a cgroup freezer)
makes the others drop and count within `queue_full_timeout_s`, never hang (issue #12,
item 1)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import StateDir
from tests.support import read_rows, wait_for, writer_pid

pytestmark = pytest.mark.slow

HOLD_THE_LOCK = """
    import sys
    from parquet_logger.transport.ring import RingLock
    from parquet_logger.transport.statedir import StateDir
    lock = RingLock(StateDir.for_log_dir(sys.argv[1]).ring_lock)
    lock.acquire()  # what a producer does for each put
    print("held", flush=True)
    sys.stdin.read()
"""


class Holder:
    """Starts processes that take the ring lock and are then SIGSTOPped."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[str]] = []

    def stop_one(self) -> subprocess.Popen[str]:
        StateDir.for_log_dir(self.log_dir).ensure()
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(HOLD_THE_LOCK), str(self.log_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "held\n"
        os.kill(proc.pid, signal.SIGSTOP)
        return proc


@pytest.fixture
def holders(log_dir: Path) -> Iterator[Holder]:
    """Lock holders for the test; each is killed (which frees its lock) at teardown."""
    holder = Holder(log_dir)
    yield holder
    for proc in holder.procs:
        proc.kill()
        proc.wait(30)


def log_llm_start(logger: ParquetLogger, i: int) -> None:
    logger.on_llm_start({"name": "m"}, [f"prompt {i}"], run_id=uuid.uuid4())


def test_callbacks_drop_and_count_instead_of_hanging(
    make_logger, log_dir, holders, caplog: pytest.LogCaptureFixture
):
    """The first callback waits at most queue_full_timeout_s, the next ones not at all;
    drops are counted and the warning names the stopped pid; flush() is bounded and says
    who holds the lock; once the holder is gone, every accepted event lands."""
    logger = make_logger(queue_full_timeout_s=0.5, flush_interval_s=0.1)
    wait_for(lambda: writer_pid(log_dir) is not None, 30, "the writer")
    writer = writer_pid(log_dir)
    assert writer is not None
    os.kill(writer, signal.SIGSTOP)  # so the next event is still uncommitted at flush()
    try:
        log_llm_start(logger, -1)  # accepted before the lock is taken: flush() waits for it
        holder = holders.stop_one()
        check_drops_and_bounded_flush(logger, holder, caplog)
    finally:
        os.kill(writer, signal.SIGCONT)
    holder.kill()  # the kernel releases its flock
    holder.wait(30)
    for i in range(50):
        log_llm_start(logger, i)
    logger.flush(timeout=30)
    assert len(read_rows(log_dir)) == 51
    assert logger.stats()["ring"].dropped_events == 101


def check_drops_and_bounded_flush(
    logger: ParquetLogger, holder: subprocess.Popen[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Drops within the bounds, the holder named in the warning and in flush()'s error."""
    with caplog.at_level(logging.WARNING, logger="parquet_logger"):
        started = time.monotonic()
        log_llm_start(logger, 0)
        first_s = time.monotonic() - started
        started = time.monotonic()
        for i in range(1, 101):
            log_llm_start(logger, i)
        rest_s = time.monotonic() - started
    assert first_s < 0.5 + 2.0, f"the first callback waited {first_s:.1f} s"
    assert rest_s < 2.0, f"100 callbacks after the first took {rest_s:.1f} s"
    assert logger.stats()["dropped_events"] == 101
    assert any(f"pid {holder.pid} (stopped)" in r.getMessage() for r in caplog.records)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=f"pid {holder.pid} \\(stopped\\)"):
        logger.flush(timeout=1)
    assert time.monotonic() - started < 1 + 2.0


def test_exit_is_bounded_while_the_holder_is_stopped(log_dir, holders):
    """A job that logs and exits while the lock holder is stopped exits within its
    atexit_timeout_s, saying why its events were dropped."""
    job = f"""
        import uuid
        from parquet_logger import ParquetLogger
        logger = ParquetLogger({str(log_dir)!r}, queue_full_timeout_s=0.2, atexit_timeout_s=1)
        for i in range(20):
            logger.on_llm_start({{"name": "m"}}, ["p"], run_id=uuid.uuid4())
    """
    holder = holders.stop_one()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(job)], capture_output=True, text=True, timeout=60
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 0, result.stderr
    assert f"pid {holder.pid} (stopped)" in result.stderr
