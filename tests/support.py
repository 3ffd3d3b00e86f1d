"""Test helpers shared by the suite: waiting on a condition, reading logs back, writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
from parquet_logger_daemon import control

from parquet_logger.transport.protocol import WriterStatus
from parquet_logger.transport.statedir import SHM_ROOT, STATE_FOLDER, StateDir


def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    """Poll `predicate` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def read_rows(log_dir: Path) -> pd.DataFrame:
    """Every row under `log_dir`, read as a hive-partitioned dataset."""
    if not any(log_dir.rglob("*.parquet")):
        return pd.DataFrame()
    return ds.dataset(log_dir, format="parquet", partitioning="hive").to_table().to_pandas()


def writer_running(log_dir: Path) -> bool:
    return control.writer_running(StateDir.for_log_dir(log_dir))


def writer_pid(log_dir: Path) -> int | None:
    """The live writer's pid: the holder of the writer lock (a writer that has not written
    its status file yet has it already), else from its status file (None if not known)."""
    state = StateDir.for_log_dir(log_dir)
    pid = control.writer_pid(state)
    if pid is not None:
        return pid
    status = WriterStatus.read(state.status)
    if status is None or not isinstance(status.pid, int) or status.pid <= 0:
        return None  # never 0: os.kill(0, ...) signals the whole process group
    return status.pid


def stop_writer(log_dir: Path, timeout: float = 15.0) -> None:
    """Wait for the directory's writer to exit on its own and remove the ring (a writer may
    still be starting when the last logger detaches); SIGTERM, then SIGKILL it if not."""
    ring = StateDir.for_log_dir(log_dir).shm_ring

    def finished() -> bool:
        return not writer_running(log_dir) and not ring.exists()

    try:
        wait_for(finished, timeout, "the writer to exit and remove its ring")
        return
    except AssertionError:
        pid = writer_pid(log_dir)
        if pid is None:
            raise
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not writer_running(log_dir), 5.0, "the writer to stop on SIGTERM")
        except AssertionError:
            os.kill(pid, signal.SIGKILL)
        raise


def kill_and_reap(procs: Iterable[subprocess.Popen[str]], timeout: float = 30.0) -> None:
    """Teardown of a test's processes: kill those still running, reap each, close its pipes."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=timeout)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def stop_writers_under(root: Path) -> list[Path]:
    """`stop_writer` for every log directory under `root`; the directories whose ring was
    left behind (removed now), for the caller to fail on."""
    leaked = []
    for state_folder in root.rglob(STATE_FOLDER):
        stop_writer(state_folder.parent)
        ring = StateDir.for_log_dir(state_folder.parent).shm_ring
        if ring.exists():
            leaked.append(state_folder.parent)
            ring.unlink()
    return leaked


def shm_rings() -> set[str]:
    """This user's parquet-logger rings in /dev/shm."""
    prefix = f"parquet-logger-{os.getuid()}-"
    return {p.name for p in SHM_ROOT.glob(prefix + "*") if not p.name.endswith(".tmp")}


def drain_argv(log_dir: Path) -> list[str]:
    """The command that writes a directory's pending events and exits (the drain command a
    producer prints), run with this interpreter."""
    run = [sys.executable, "-m", "parquet_logger_daemon", "run", "--dir", str(log_dir)]
    return [*run, "--exit-when-idle"]


def run_python(
    code: str, timeout: float = 60.0, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a small program in a fresh interpreter (for fork, exit and kill scenarios)."""
    return subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
