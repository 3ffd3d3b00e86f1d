"""A job that logs and just ends (or is killed): its events are on disk, its caller's pipes are
not held, and the writer it started leaves with the ring once no producer is left."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import StateDir
from tests.support import read_rows, run_python, wait_for, writer_running

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
EVENTS = 1_000
# A job that logs, prints its pid and ends without flush or close; `{ending}` is how it ends.
JOB = """
import os
from tests.scenarios.producers import log_llm_start
from parquet_logger import ParquetLogger

logger = ParquetLogger(os.environ["LOG_DIR"])
for i in range({events}):
    log_llm_start(logger, str(i))
print(os.getpid(), flush=True)
{ending}
"""


def writer_finished(log_dir: Path) -> bool:
    """The directory's writer has run and exited (a writer not started yet has not)."""
    try:
        status = orjson.loads(StateDir.for_log_dir(log_dir).status.read_bytes())
    except FileNotFoundError:
        return False
    return status["running"] is False and not writer_running(log_dir)


def run_on(log_dir: Path, program: str) -> subprocess.CompletedProcess[str]:
    """Run `program` on `log_dir` (as $LOG_DIR) in a fresh interpreter with captured pipes."""
    env = {**os.environ, "LOG_DIR": str(log_dir)}
    return run_python(program, timeout=60, env=env, cwd=REPO)


@pytest.mark.parametrize(
    ("ending", "exit_code"),
    [
        pytest.param("", 0, id="falls-off-the-end"),
        pytest.param("raise SystemExit(3)", 3, id="sys-exit"),
        pytest.param("raise RuntimeError('the job failed')", 1, id="uncaught-exception"),
    ],
)
def test_job_that_just_ends(log_dir: Path, ending: str, exit_code: int) -> None:
    """Run with captured pipes, the job neither hangs nor loses an event, keeps its exit code,
    and its writer exits by itself and removes the ring."""
    # subprocess.run waits for EOF on the pipes: a writer holding them would hang it here.
    result = run_on(log_dir, JOB.format(events=EVENTS, ending=ending))

    assert result.returncode == exit_code, result.stderr
    rows = read_rows(log_dir)
    assert sorted(rows["custom_id"].astype(int)) == list(range(EVENTS))
    assert set(rows["pid"]) == {int(result.stdout)}
    wait_for(lambda: writer_finished(log_dir), 10, "the writer to exit with no producer left")
    assert not StateDir.for_log_dir(log_dir).shm_ring.exists()


def test_writer_started_by_a_job_does_not_hold_its_pipes(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A job's writer that outlives the job (another producer is still attached) does not
    keep `subprocess.run(..., capture_output=True)` of that job waiting."""
    # Attached before the job, without a writer: the job starts the writer, this keeps it up.
    keeper = make_logger(start_writer=False)

    result = run_on(log_dir, JOB.format(events=EVENTS, ending=""))

    assert result.returncode == 0, result.stderr
    assert writer_running(log_dir), "the job's writer should still serve the keeper"
    assert len(read_rows(log_dir)) == EVENTS
    keeper.close(timeout=30)
    wait_for(lambda: writer_finished(log_dir), 10, "the writer to exit with no producer left")
    assert not StateDir.for_log_dir(log_dir).shm_ring.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_job_killed_by_a_signal(log_dir: Path, signum: signal.Signals) -> None:
    """A job killed with no atexit flush (SIGTERM's default action, SIGKILL) loses nothing:
    the writer drains what the job published, then exits and removes the ring."""
    suicide = f"os.kill(os.getpid(), {int(signum)})"

    result = run_on(log_dir, JOB.format(events=EVENTS, ending=suicide))

    assert result.returncode == -signum, result.stderr
    # The job may die before its writer has even started: wait for that writer's last word.
    wait_for(lambda: writer_finished(log_dir), 10, "the writer to exit with no producer left")
    rows = read_rows(log_dir)
    assert sorted(rows["custom_id"].astype(int)) == list(range(EVENTS))
    assert not StateDir.for_log_dir(log_dir).shm_ring.exists()


# Logs from a daemon thread that is still logging when the interpreter exits (and detaches
# the logger at exit); the main thread logs EVENTS events meanwhile.
DAEMON_THREAD_JOB = f"""
import itertools, os, threading
from tests.scenarios.producers import log_llm_start
from parquet_logger import ParquetLogger

logger = ParquetLogger(os.environ["LOG_DIR"])

def log_forever():
    for i in itertools.count():
        log_llm_start(logger, f"daemon:{{i}}")

threading.Thread(target=log_forever, daemon=True).start()
for i in range({EVENTS}):
    log_llm_start(logger, f"main:{{i}}")
"""


def test_daemon_thread_logging_through_exit(log_dir: Path) -> None:
    """A daemon thread still logging while the interpreter exits neither hangs the exit nor
    leaves a hole: its events on disk are numbered 0..n-1 (at most the last is cut off)."""
    result = run_on(log_dir, DAEMON_THREAD_JOB)

    assert result.returncode == 0, result.stderr
    wait_for(lambda: writer_finished(log_dir), 10, "the writer to exit with no producer left")
    rows = read_rows(log_dir)
    assert rows["event_id"].is_unique
    parts = rows["custom_id"].str.split(":", expand=True)
    thread, number = parts[0], parts[1].astype(int)
    assert sorted(number[thread == "main"]) == list(range(EVENTS))
    daemon_numbers = sorted(number[thread == "daemon"])
    assert daemon_numbers, "the daemon thread logged nothing"
    assert daemon_numbers == list(range(len(daemon_numbers)))
    assert not StateDir.for_log_dir(log_dir).shm_ring.exists()


# Closes its logger, waits for its writer to end, and prints that writer's state: "zombie" if
# this process, the writer's parent, never waited for it.
CLOSE_AND_LIVE_ON = """
import gc, os, psutil
from parquet_logger import ParquetLogger
from tests.support import wait_for

logger = ParquetLogger(os.environ["LOG_DIR"])
(writer,) = psutil.Process().children()
logger.close()
gc.collect()
ended = lambda: not writer.is_running() or writer.status() == psutil.STATUS_ZOMBIE
wait_for(ended, 10, "the writer to exit")
gc.collect()
print(writer.status() if writer.is_running() else "reaped")
"""


def test_closing_process_is_left_without_a_zombie_writer(log_dir: Path) -> None:
    """A process that closes its logger and lives on (a notebook) has no zombie writer."""
    result = run_on(log_dir, CLOSE_AND_LIVE_ON)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "reaped"
