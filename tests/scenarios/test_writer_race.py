"""Processes racing to start a directory's writer end up with exactly one."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psutil
import pytest

from tests.support import kill_and_reap, read_rows, wait_for

pytestmark = pytest.mark.slow

RACER = """
    import sys, uuid
    from parquet_logger import ParquetLogger
    sys.stdin.readline()  # the starting gun: all racers construct at once
    logger = ParquetLogger(sys.argv[1])
    logger.on_llm_start({"name": "m"}, ["p"], run_id=uuid.uuid4())
    logger.flush(timeout=60)
    print("ok", flush=True)
    sys.stdin.readline()
"""


def writers_of(log_dir: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "parquet_logger_daemon" in cmdline and log_dir in cmdline:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc.pid)
            except psutil.NoSuchProcess:
                continue
    return found


def test_racing_loggers_start_exactly_one_writer(log_dir):
    """Six processes construct a logger for a fresh directory at once: one writer serves all."""
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(RACER), str(log_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    try:
        for proc in racers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in racers:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ok"
        # Every racer has flushed through a writer. Losers of the race exit as soon as they
        # reach the lock (after their imports): wait for them, then exactly one is left.
        wait_for(lambda: len(writers_of(str(log_dir))) <= 1, 20, "the race's losers to exit")
        assert len(writers_of(str(log_dir))) == 1
        for proc in racers:
            assert proc.stdin is not None
            proc.stdin.close()
            assert proc.wait(timeout=60) == 0
        assert len(read_rows(log_dir)) == 6
    finally:
        kill_and_reap(racers)
