"""Fixtures: a log directory whose loggers and writer are always cleaned up, and a check
that no test leaks a shared-memory ring."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import STATE_FOLDER, StateDir
from tests.support import stop_writer


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh log directory; at teardown its writer must exit and its ring be gone."""
    path = tmp_path / "logs"
    yield path
    stop_writer(path)
    state = StateDir.for_log_dir(path)
    leaked = state.shm_ring.exists()
    state.shm_ring.unlink(missing_ok=True)
    assert not leaked, f"the ring of {path} was left in /dev/shm"


@pytest.fixture
def make_logger(log_dir: Path) -> Iterator[Callable[..., ParquetLogger]]:
    """Build loggers on `log_dir` (fast flushes for tests); all are closed at teardown."""
    made: list[ParquetLogger] = []

    def make(**kwargs: Any) -> ParquetLogger:
        kwargs.setdefault("log_dir", log_dir)
        logger = ParquetLogger(**kwargs)
        made.append(logger)
        return logger

    yield make
    for logger in made:
        logger.close(timeout=30)


@pytest.fixture(autouse=True, scope="session")
def no_leaked_rings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the run if any log directory of this session left its ring in /dev/shm."""
    yield
    base = tmp_path_factory.getbasetemp()
    leaked = []
    for state_folder in base.rglob(STATE_FOLDER):
        state = StateDir.for_log_dir(state_folder.parent)
        if state.shm_ring.exists():
            leaked.append(str(state.log_dir))
            state.shm_ring.unlink()
    assert not leaked, f"rings left in /dev/shm by: {leaked}"


# Ask for start_writer before make_logger: loggers then close while the writer still runs.
WriterStarter = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_writer(log_dir: Path) -> Iterator[WriterStarter]:
    """Run `parquet-logger-daemon run --dir log_dir` as a real process; always reaped."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parquet_logger_daemon",
                "run",
                "--dir",
                str(log_dir),
                "--flush-interval-s",
                "0.2",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
