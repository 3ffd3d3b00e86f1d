"""`status`, `stop` and `flush`: talk to a directory's writer without its cooperation.

Everything here reads the ring header, the status file and the lock files, so it works while
the writer is busy, hung or dead; nothing needs the writer to answer.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from parquet_logger.errors import RingError
from parquet_logger.transport.flush_barrier import FlushBarrier
from parquet_logger.transport.lock_holder import flock_holders
from parquet_logger.transport.protocol import ControlExit, WriterStatus
from parquet_logger.transport.ring import Ring, RingLock
from parquet_logger.transport.statedir import StateDir
from parquet_logger.transport.writer_launch import writer_alive


def writer_running(state: StateDir) -> bool:
    """True while a process holds the writer lock (the kernel drops it when that dies)."""
    try:
        fd = os.open(state.writer_lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        return writer_alive(fd)
    finally:
        os.close(fd)


def writer_pid(state: StateDir) -> int | None:
    """The pid of the process holding the writer lock, from /proc/locks (None: no writer, or
    no /proc). A writer that has not written its status file yet holds it already."""
    try:
        fd = os.open(state.writer_lock, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        holders = flock_holders(fd, exclusive=True)
    finally:
        os.close(fd)
    # Never 0 or less: os.kill(0, ...) would signal the caller's whole process group.
    return holders[0] if holders and holders[0] > 0 else None


def producer_pids(path: Path) -> list[int]:
    """Pids holding a shared flock on `path` (the attached producers), from /proc/locks."""
    try:
        inode = os.stat(path).st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = set()
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  READ 1234 fd:01:5678 0 EOF" (blocked waiters carry "->")
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "READ":
            continue
        if fields[5].rsplit(":", 1)[-1] == str(inode):
            pids.add(int(fields[4]))
    return sorted(pids)


def read_status(state: StateDir) -> dict[str, Any]:
    """The writer's status: liveness, its status file, the ring header and the producers."""
    running = writer_running(state)
    written = WriterStatus.read(state.status)
    status: dict[str, Any] = {"log_dir": str(state.log_dir)}
    if written is not None:
        status.update(written.to_dict())
    status["running"] = running  # the file may be stale: the lock is the truth
    try:
        ring = Ring.attach(state)
    except RingError as exc:  # an unusable ring is replaced by the next logger; say why
        ring, status["ring_error"] = None, str(exc)
    if ring is not None:
        try:
            stats = ring.stats()
            status.update(
                ring_path=str(ring.path),
                ring_capacity=stats.capacity,
                ring_fill=stats.fill,
                ring_high_water=stats.high_water,
                events_dropped=stats.dropped_events,
                corrupt_frames=stats.corrupt_frames,
                writer_heartbeat_ns=stats.writer_heartbeat_ns,
                # From the ring, not status.json: that may be on the disk that is failing.
                writes_failing=ring.writer_problem,
            )
            if running:
                status["pid"] = stats.writer_pid or status.get("pid")
        finally:
            ring.close()
    now = time.time_ns()
    if running and status.get("started_ns"):
        status["uptime_s"] = round((now - status["started_ns"]) / 1e9, 1)
    status["producers"] = producer_pids(state.producers_lock)
    return status


def format_status(status: dict[str, Any]) -> str:
    """A human-readable block of the status fields."""
    if not status["running"]:
        head = f"writer for {status['log_dir']}: not running"
    else:
        head = (
            f"writer for {status['log_dir']}: running, pid {status.get('pid')}, "
            f"up {status.get('uptime_s', '?')} s"
        )
    last_flush = status.get("last_flush_ns")
    rows = [
        ("events received", status.get("events_received")),
        ("events written", status.get("events_written")),
        ("events dropped", status.get("events_dropped")),
        ("invalid records", status.get("invalid_records")),
        ("corrupt frames", status.get("corrupt_frames")),
        ("corrupt bytes", status.get("corrupt_bytes")),
        ("files written", status.get("files_written")),
        ("write errors", status.get("write_errors")),
        ("last error", status.get("last_error") or "-"),
        ("writes failing", status.get("writes_failing") or "no"),
        (
            "last flush",
            f"{(time.time_ns() - last_flush) / 1e9:.1f} s ago" if last_flush else "never",
        ),
        (
            "ring fill",
            f"{status.get('ring_fill', 0)} / {status.get('ring_capacity', '?')} bytes "
            f"(high-water {status.get('ring_high_water', 0)})",
        ),
        ("producers", ", ".join(map(str, status["producers"])) or "none"),
    ]
    if not status["running"] and status.get("ring_fill"):
        head += (
            f"; the ring holds {status['ring_fill']} bytes not yet in Parquet "
            "(start a writer to write them)"
        )
    if status.get("ring_error"):
        rows.append(("ring error", status["ring_error"]))
    lines = [f"  {name:<16} {'-' if value is None else value}" for name, value in rows]
    return "\n".join([head, *lines])


def stop(state: StateDir, timeout_s: float) -> ControlExit:
    """SIGTERM the writer and wait until it has drained and exited."""
    if not writer_running(state):
        return ControlExit.NO_WRITER
    pid = read_status(state).get("pid")
    if not pid:
        return ControlExit.FAILED
    os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while writer_running(state):
        if time.monotonic() > deadline:
            return ControlExit.FAILED
        time.sleep(0.05)
    return ControlExit.DONE


def flush(state: StateDir, timeout_s: float) -> ControlExit:
    """Ask the writer to write out everything published so far, and wait until it has."""
    if not writer_running(state):
        return ControlExit.NO_WRITER
    ring = Ring.attach(state)
    if ring is None:
        return ControlExit.DONE  # no ring: nothing to write
    lock = RingLock(state.ring_lock)
    barrier = FlushBarrier.start(state, "logged so far", lambda: writer_running(state), timeout_s)
    try:
        barrier.commit(ring, lock, ring.head)
        return ControlExit.DONE
    except TimeoutError:
        return ControlExit.FAILED
    finally:
        lock.close()
        ring.close()
