"""One process's connection to a log directory: its ring, its locks, and a writer watchdog.

Every ParquetLogger of a process that logs into the same directory shares one Attachment.
While attached, the process holds a shared flock on `producers.lock`; an auto-started writer
exits only once it can take that lock exclusively, i.e. when no producer is left.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import subprocess
import threading
import time

from parquet_logger.ring import Ring, RingLock, RingStats
from parquet_logger.statedir import StateDir, open_private
from parquet_logger.writer_launch import WriterOptions, spawn_writer, writer_alive

log = logging.getLogger("parquet_logger")

WATCHDOG_PERIOD_S = 0.5
_ATTACH_LOCK_TIMEOUT_S = 10.0


class Attachment:
    """A process's ring handle for one directory (shared by its loggers, counted by refs)."""

    def __init__(
        self, state: StateDir, ring_size_bytes: int, options: WriterOptions, start_writer: bool
    ) -> None:
        self.state = state
        self._options = options
        self._start_writer = start_writer
        self._producers_fd = self._take_producer_share()
        try:
            self.ring = Ring.create_or_attach(state, ring_size_bytes)
            self.lock = RingLock(state.ring_lock)
            self._writer_lock_fd = open_private(state.writer_lock)
        except BaseException:
            os.close(self._producers_fd)
            raise
        self.refs = 0
        self.closed = False
        self.atexit_timeout_s = 0.0  # the largest of its loggers' atexit_timeout_s
        self._spawned: subprocess.Popen[bytes] | None = None
        self._spawn_failures = 0
        self._spawned_at = 0.0
        self._next_spawn_at = 0.0
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.ensure_writer()
        self._start_watchdog()

    def _take_producer_share(self) -> int:
        fd = open_private(self.state.producers_lock)
        deadline = time.monotonic() + _ATTACH_LOCK_TIMEOUT_S
        while True:
            try:
                # The writer holds this exclusively only for the moment it decides to exit.
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise TimeoutError(
                        f"could not attach to {self.state.log_dir}: producers.lock held "
                        f"exclusively for {_ATTACH_LOCK_TIMEOUT_S} s"
                    ) from None
                time.sleep(0.005)

    # ------------------------------------------------------------------ hot path
    def put(self, body: bytes, wait_s: float) -> bool:
        if self._watchdog is None:
            self._start_watchdog()  # first put in a forked child
        return self.ring.put(body, self.lock, wait_s)

    # ------------------------------------------------------------------ writer care
    def writer_alive(self) -> bool:
        return writer_alive(self._writer_lock_fd)

    def ensure_writer(self) -> None:
        """Start a writer if none holds the lock (and we did not just start one)."""
        if self._spawned is not None and self._spawned.poll() is not None:
            code = self._spawned.returncode
            self._spawned = None
            if code not in (0, 3):  # 3: lost the race to another writer
                # A writer that ran a while and died is replaced at once; one that keeps
                # dying on start (a broken install, an unwritable directory) backs off.
                lived_s = time.monotonic() - self._spawned_at
                self._spawn_failures = 1 if lived_s > 10 else self._spawn_failures + 1
                delay = (
                    0.0 if self._spawn_failures == 1 else min(30.0, 0.5 * 2**self._spawn_failures)
                )
                self._next_spawn_at = time.monotonic() + delay
                log.warning(
                    "parquet-logger writer for %s exited with code %s; see %s (restart in %.0f s)",
                    self.state.log_dir,
                    code,
                    self.state.writer_log,
                    delay,
                )
        if not self._start_writer or self.writer_alive() or self._spawned is not None:
            return
        if time.monotonic() < self._next_spawn_at:
            return
        self._spawned = spawn_writer(self.state, self._options)
        self._spawned_at = time.monotonic()
        # Reap it whenever it ends, even after this attachment is closed: no zombie, and no
        # ResourceWarning from a Popen collected while its process runs.
        threading.Thread(
            target=self._spawned.wait, name="parquet-logger-reaper", daemon=True
        ).start()

    def _start_watchdog(self) -> None:
        self._stop = threading.Event()
        thread = threading.Thread(target=self._watch, name="parquet-logger-watchdog", daemon=True)
        self._watchdog = thread
        thread.start()

    def _watch(self) -> None:
        # Restarts a writer that died (SIGKILL, OOM) within about a second; the ring keeps
        # everything the producers published meanwhile.
        while not self._stop.wait(WATCHDOG_PERIOD_S):
            try:
                if self._spawned is not None and self._spawned.poll() is None:
                    if self.writer_alive():
                        self._spawn_failures = 0
                    continue
                self.ensure_writer()
            except Exception:  # the watchdog must outlive any one failure
                log.exception("parquet-logger watchdog for %s", self.state.log_dir)

    # ------------------------------------------------------------------ flush
    def flush(self, timeout: float) -> None:
        """Wait until every record this process put is in a durable file.

        Raises:
            TimeoutError: the writer did not get there within `timeout` seconds.
        """
        target = self.ring.last_put_end
        if self.ring.committed >= target:
            return
        self.ring.request_flush(self.lock)
        deadline = time.monotonic() + timeout
        pause = 0.0005
        while self.ring.committed < target:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"parquet-logger: {target - self.ring.committed} bytes of events logged "
                    f"by this process are not yet in Parquet under {self.state.log_dir} after "
                    f"{timeout} s (writer alive: {self.writer_alive()}; see "
                    f"{self.state.writer_log})"
                )
            time.sleep(pause)  # the writer publishes progress only through `committed`
            pause = min(pause * 2, 0.02)

    def stats(self) -> RingStats:
        return self.ring.stats()

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        """Detach: release the producer share so an auto-started writer may exit."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        os.close(self._producers_fd)
        os.close(self._writer_lock_fd)
        self.lock.close()
        self.ring.close()

    def after_fork_in_child(self) -> None:
        """Own locks in the child: flock belongs to the open file description, which a
        forked child shares with its parent until it opens the files itself."""
        self.lock.reopen()
        inherited = self._producers_fd
        self._producers_fd = self._take_producer_share()
        os.close(inherited)
        os.close(self._writer_lock_fd)
        self._writer_lock_fd = open_private(self.state.writer_lock)
        self.ring.last_put_end = 0
        self._spawned = None
        self._watchdog = None  # threads do not survive fork; restarted on first put


_registry: dict[str, Attachment] = {}
_registry_lock = threading.Lock()


def acquire(
    state: StateDir, ring_size_bytes: int, options: WriterOptions, *, start_writer: bool = True
) -> Attachment:
    """This process's attachment to `state`, created on first use; counts a reference."""
    with _registry_lock:
        current = _registry.get(str(state.root))
        if current is None or current.closed:
            current = Attachment(state, ring_size_bytes, options, start_writer)
            _registry[str(state.root)] = current
        current.refs += 1
        return current


def release(attachment: Attachment) -> None:
    """Drop a reference; the last one detaches."""
    with _registry_lock:
        attachment.refs -= 1
        if attachment.refs <= 0:
            _registry.pop(str(attachment.state.root), None)
            attachment.close()


def _flush_all_at_exit() -> None:
    with _registry_lock:
        attachments = list(_registry.values())
    for attachment in attachments:
        try:
            attachment.flush(attachment.atexit_timeout_s)
        except TimeoutError as exc:
            log.error("%s", exc)
        except Exception:
            log.exception("parquet-logger: flush at exit failed for %s", attachment.state.log_dir)
    with _registry_lock:
        for attachment in attachments:
            _registry.pop(str(attachment.state.root), None)
            attachment.close()


def _reinit_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for attachment in list(_registry.values()):
        try:
            attachment.after_fork_in_child()
        except Exception:
            log.exception("parquet-logger: could not re-attach after fork")
            _registry.pop(str(attachment.state.root), None)


atexit.register(_flush_all_at_exit)
os.register_at_fork(after_in_child=_reinit_in_child)
