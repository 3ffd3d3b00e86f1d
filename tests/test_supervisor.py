"""The writer supervisor's restart decision: replace a long-lived writer at once, back off
from one that keeps dying on start; a writer started through the launcher (Ray workers)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import StateDir
from parquet_logger.transport.supervisor import (
    LONG_LIFE_S,
    MAX_BACKOFF_S,
    Restart,
    decide_restart,
)
from parquet_logger.transport.writer_config import WriterSettings
from parquet_logger.transport.writer_launch import spawn_writer
from tests.support import read_rows, wait_for, writer_pid


def test_a_writer_that_ran_a_while_is_replaced_at_once() -> None:
    """However many failures came before, a death after a long life restarts without delay."""
    assert decide_restart(7, LONG_LIFE_S + 1) == Restart(failures=1, delay_s=0.0)


def test_a_writer_dying_on_start_backs_off_exponentially_up_to_the_cap() -> None:
    """Successive deaths on start wait 0, 2, 4, 8, 16, 30, 30 s."""
    failures, delays = 0, []
    for _ in range(7):
        restart = decide_restart(failures, lived_s=0.1)
        failures = restart.failures
        delays.append(restart.delay_s)
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0, MAX_BACKOFF_S, MAX_BACKOFF_S]


def test_an_orphaned_writer_is_not_the_child_of_its_starter(log_dir: Path) -> None:
    """spawn_writer(orphan=True), as in a Ray worker: the launcher exits at once with 0 and
    the writer it started runs on, parented elsewhere, and serves a logger."""
    # Attached first: a writer started for a directory with no producer exits at once.
    with ParquetLogger(log_dir, start_writer=False) as logger:
        logger.log_event("orphan_check", {"n": 1})
        launcher = spawn_writer(StateDir.for_log_dir(log_dir), WriterSettings(), orphan=True)
        assert launcher.wait(timeout=30) == 0
        wait_for(lambda: writer_pid(log_dir) is not None, 30, "the orphaned writer")
        writer = writer_pid(log_dir)
        assert writer is not None
        assert writer != launcher.pid
        assert psutil.Process(writer).ppid() not in (os.getpid(), launcher.pid)
        logger.flush(30)
    assert list(read_rows(log_dir)["event_type"]) == ["orphan_check"]
