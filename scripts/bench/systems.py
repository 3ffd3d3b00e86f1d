"""The two loggers under test behind one small interface: open, flush until durable, close.

`ours` is parquet_logger (a writer process per log directory); `theirs` is
langchain-callback-parquet-logger 4.0.0, which writes from a thread of the caller's process:
its `flush()` hands the buffer to that thread and waits for a barrier behind the write, so
when it returns the files are written (it does not fsync them; ours does). It has no close:
its documented context manager only flushes. Both packages are imported lazily, so that a
worker process of one system never loads the other.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
from langchain_core.callbacks import BaseCallbackHandler

SYSTEMS = ("ours", "theirs")
WRITER_MODULE = "parquet_logger_daemon"
STATE_FOLDER = "_parquet_logger"
FLUSH_TIMEOUT_S = 120.0
WRITER_START_TIMEOUT_S = 60.0
WRITER_EXIT_TIMEOUT_S = 30.0


@dataclass
class Logger:
    """One open logger of either system, and (ours) the writer process serving it."""

    system: str
    handler: Any  # a BaseCallbackHandler with the package's flush()
    log_dir: Path
    writer: psutil.Process | None = None
    problems: list[str] = field(default_factory=list)

    def flush(self) -> None:
        """Return once every event handed to this logger is in a Parquet file."""
        self.handler.flush(FLUSH_TIMEOUT_S)

    def close(self) -> None:
        """Flush, detach, and (ours) wait for the writer to exit; problems are recorded."""
        if self.system == "theirs":
            self.handler.__exit__(None, None, None)  # its documented close: a flush
            return
        self.handler.close(FLUSH_TIMEOUT_S)
        if self.writer is None:
            # A fleet worker: other producers may still be logging into the ring, which is
            # the writer's to remove once they are gone (the holder checks that it did).
            return
        if not wait_exit(self.writer, WRITER_EXIT_TIMEOUT_S):
            self.problems.append(f"writer {self.writer.pid} did not exit")
        ring = ring_path(self.log_dir)
        if ring is not None and ring.exists():
            self.problems.append(f"ring {ring} left behind (removed)")
            ring.unlink(missing_ok=True)

    def counters(self) -> dict[str, int]:
        """Events the logger itself dropped or failed on (ours; theirs counts nothing)."""
        if self.system != "ours":
            return {"dropped_events": 0, "callback_failures": 0}
        stats = self.handler.stats()
        ring = stats.get("ring")
        return {
            "dropped_events": int(stats["dropped_events"]),
            "callback_failures": int(stats["callback_failures"]),
            # Puts that found the ring full and waited for the writer (latency spikes).
            "waited_puts": int(getattr(ring, "waited_puts", 0) or 0),
        }


def open_logger(system: str, log_dir: Path, *, find_writer: bool = True) -> Logger:
    """A logger of `system` on `log_dir`; for ours, wait until its writer runs (so that its
    start-up is not billed to the events) unless `find_writer` is False."""
    if system == "ours":
        from parquet_logger import ParquetLogger

        logger = Logger(system, ParquetLogger(log_dir), log_dir)
        if find_writer:
            logger.writer = wait_for_writer(log_dir, WRITER_START_TIMEOUT_S)
        return logger
    if system == "theirs":
        from langchain_callback_parquet_logger import (  # type: ignore[import-untyped]
            ParquetLogger as TheirLogger,
        )

        return Logger(system, TheirLogger(str(log_dir)), log_dir)
    raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")


def with_tags_of(system: str, custom_id: str) -> list[str]:
    """The tags that `system`'s own `with_tags(custom_id=...)` produces."""
    if system == "ours":
        from parquet_logger import with_tags as ours

        return list(ours(custom_id=custom_id)["tags"])
    from langchain_callback_parquet_logger import with_tags as theirs

    return list(theirs(custom_id=custom_id)["tags"])


def noop_logger(log_dir: Path) -> Logger:
    """A no-op handler dressed as a logger (the baseline of every loop)."""
    from scripts.bench.events import NoOpHandler

    class _Flushable(NoOpHandler):
        def flush(self, timeout: float) -> None:
            return None

    handler: BaseCallbackHandler = _Flushable()
    return Logger("noop", handler, log_dir)


# ---------------------------------------------------------------------- our writer process
def _status_file(log_dir: Path) -> Path | None:
    found = sorted((log_dir / STATE_FOLDER).glob("*/status.json"))
    return found[0] if found else None


def ring_path(log_dir: Path) -> Path | None:
    """The shared-memory ring file of `log_dir` (ours), wherever the writer put it."""
    status = _status_file(log_dir)
    if status is None:
        return None
    try:
        return Path(orjson.loads(status.read_bytes())["ring_path"])
    except (OSError, KeyError, ValueError):
        return None


def is_writer_of(process: psutil.Process, log_dir: Path) -> bool:
    try:
        cmdline = process.cmdline()
    except psutil.Error:
        return False
    return any(WRITER_MODULE in part for part in cmdline) and str(log_dir) in cmdline


def wait_for_writer(log_dir: Path, timeout: float) -> psutil.Process:
    """The writer process of `log_dir`, once it runs its loop (its status file names it;
    else it is found among this process's descendants by its command line).

    Raises:
        TimeoutError: no writer showed up in time.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while time.monotonic() < deadline:
        status = _status_file(log_dir)
        if status is not None:
            try:
                pid = int(orjson.loads(status.read_bytes())["pid"])
                process = psutil.Process(pid)
                if is_writer_of(process, log_dir):
                    return process
            except (OSError, KeyError, ValueError, psutil.Error):
                pass
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    for child in psutil.Process().children(recursive=True):
        if is_writer_of(child, log_dir):
            return child
    raise TimeoutError(f"no writer for {log_dir} after {timeout} s")


def wait_exit(process: psutil.Process, timeout: float) -> bool:
    """Wait for `process` to exit (reaping it if it is our child); False if it did not."""
    try:
        process.wait(timeout)
        return True
    except psutil.TimeoutExpired:
        return False
    except psutil.Error:
        return True


def stop_stray_writers(root: Path) -> list[int]:
    """SIGTERM (then SIGKILL) writers of log directories under `root` that are still alive:
    the benchmark started them. Returns their pids."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if any(WRITER_MODULE in part for part in cmdline) and any(
            part.startswith(str(root)) for part in cmdline
        ):
            found.append(process)
    for process in found:
        try:
            process.terminate()
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(found, timeout=10)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue
    return [p.pid for p in found]


def process_cpu_s(process: psutil.Process | None) -> float:
    """User + system CPU seconds of `process` (0 for none, or once it is gone).

    On Linux, read from the process's CPU-time clock (nanoseconds, exited threads included):
    psutil's figure counts clock ticks of 10 ms, as much as a writer spends on a hundred
    ChatOpenAI calls.
    """
    if process is None:
        return 0.0
    try:
        return time.clock_gettime(_cpu_clock_id(process.pid))
    except OSError:  # not Linux, or the process is gone
        pass
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def _cpu_clock_id(pid: int) -> int:
    """Linux's clock id for the CPU time of the whole process `pid` (what the C library's
    clock_getcpuclockid returns: CPUCLOCK_SCHED of the process, encoded as ~pid << 3 | 2)."""
    return (~pid << 3) | 2


def peak_rss_bytes(pid: int | None = None) -> int:
    """The kernel's high-water mark of a process's RSS (VmHWM), 0 if unknown."""
    path = f"/proc/{pid or os.getpid()}/status"
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Lab:
    """The benchmark's temporary root: log directories under it, and every logger opened
    there, so that all of them are closed (and every writer has exited) at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._open: list[Logger] = []
        self.problems: list[str] = []

    def new_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True)
        return path

    def open(self, system: str, log_dir: Path) -> Logger:
        logger = open_logger(system, log_dir)
        self._open.append(logger)
        return logger

    def close(self, logger: Logger) -> list[str]:
        """Close `logger` (waiting for its writer to exit); returns its problems."""
        if logger in self._open:
            self._open.remove(logger)
        logger.close()
        self.problems += logger.problems
        return logger.problems

    def close_all(self) -> None:
        """Close what is still open, then stop any writer of ours that outlived that."""
        for logger in list(self._open):
            try:
                self.close(logger)
            except Exception as exc:  # keep closing the others
                self.problems.append(f"closing {logger.log_dir}: {exc!r}")
        stray = stop_stray_writers(self.root)
        if stray:
            self.problems.append(f"writers still running at the end, stopped: {stray}")
        for ring in leaked_rings(self.root):
            ring.unlink(missing_ok=True)
            self.problems.append(f"ring {ring} was left in /dev/shm (removed)")


def leaked_rings(root: Path) -> list[Path]:
    """Shared-memory rings of our log directories under `root` that still exist (a writer
    removes its ring when it exits; one that never ran leaves it)."""
    from parquet_logger.transport.statedir import StateDir

    found = []
    for state_folder in root.glob(f"*/{STATE_FOLDER}"):
        ring = StateDir.for_log_dir(state_folder.parent).shm_ring
        if ring.exists():
            found.append(ring)
    return found
