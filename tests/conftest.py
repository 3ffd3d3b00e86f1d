"""Fixtures: a log directory whose loggers and writer are always cleaned up, and a check
that no test leaks a shared-memory ring."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import STATE_FOLDER, StateDir
from tests.fake_openai_responses import FakeResponsesServer
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


class WriterStarter:
    """Runs `parquet-logger-daemon run --dir log_dir` as real processes, each writing its
    stdout and stderr to a file of its own: a pipe that nobody reads fills up and blocks the
    writer. The files' tails are added to the report of a failed test."""

    def __init__(self, log_dir: Path, logs: list[Path]) -> None:
        self._log_dir = log_dir
        self._logs = logs  # the test item's list: the report hook reads it
        self._procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def __call__(self, *extra: str) -> subprocess.Popen[bytes]:
        log = self._log_dir.parent / f"writer-{len(self._procs)}.log"
        self._logs.append(log)
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "parquet_logger_daemon", "run"),
                    *("--dir", str(self._log_dir), "--flush-interval-s", "0.2"),
                    *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._procs.append((proc, log))
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        """What `proc` has written to its stdout and stderr so far."""
        log = next(log for p, log in self._procs if p is proc)
        return log.read_text(errors="replace")

    def reap(self) -> None:
        """SIGTERM every writer still running (SIGKILL after 15 s) and wait for it."""
        for proc, _ in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


WRITER_LOGS = pytest.StashKey[list[Path]]()
LOG_TAIL_LINES = 40


# Ask for start_writer before make_logger: loggers then close while the writer still runs.
@pytest.fixture
def start_writer(request: pytest.FixtureRequest, log_dir: Path) -> Iterator[WriterStarter]:
    """Start real writer processes on `log_dir` (extra CLI flags as arguments); always reaped."""
    starter = WriterStarter(log_dir, request.node.stash.setdefault(WRITER_LOGS, []))
    try:
        yield starter
    finally:
        starter.reap()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test (or fixture) shows the tail of each writer log that `start_writer` made."""
    report = yield
    if report.failed:
        for log in item.stash.get(WRITER_LOGS, []):
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            report.sections.append(
                (f"{log.name} (last {LOG_TAIL_LINES} lines)", "\n".join(lines[-LOG_TAIL_LINES:]))
            )
    return report


@pytest.fixture
def server() -> Iterator[FakeResponsesServer]:
    """A fake OpenAI Responses server on 127.0.0.1; stopped at teardown."""
    fake = FakeResponsesServer().start()
    yield fake
    fake.stop()
