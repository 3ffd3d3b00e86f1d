"""Keeping a log directory's writer alive, from a producer: spawn, watchdog, back-off.

A producer that may start writers (`start_writer=True`) starts one when none holds the writer
lock, and a watchdog thread checks four times a second (and runs the attachment's own periodic
check: has the ring been removed from under it?), so a writer killed by SIGKILL or the OOM
killer is replaced within about a second (median 0.6 s, at most 1.1 s until it serves, with
both of two cores busy: scripts/writer_restart.py); the ring keeps every record meanwhile. A
writer that keeps dying on start is restarted with exponential back-off.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from parquet_logger.transport.protocol import RunExit
from parquet_logger.transport.statedir import StateDir, open_private
from parquet_logger.transport.writer_config import WriterSettings
from parquet_logger.transport.writer_launch import in_ray_worker, spawn_writer, writer_alive
from parquet_logger.warning_limiter import WarningLimiter

log = logging.getLogger("parquet_logger")

WATCHDOG_PERIOD_S = 0.25  # a flock probe and a stat: cheap; halves the restart's detection
LONG_LIFE_S = 10.0  # a writer that ran this long before dying is not failing on start
MAX_BACKOFF_S = 30.0
# After starting an orphaned writer (see writer_launch), the launcher's exit says nothing:
# give the writer this long to take its lock before another one is started.
ORPHAN_START_GRACE_S = 10.0


@dataclass(frozen=True)
class Restart:
    """What to do after a spawned writer exited: the new failure count and the delay."""

    failures: int
    delay_s: float


def decide_restart(failures: int, lived_s: float) -> Restart:
    """After a writer died: one that ran a while is replaced at once; one that keeps dying
    on start (a broken install, an unwritable directory) waits 2, 4, 8... up to 30 s."""
    failures = 1 if lived_s > LONG_LIFE_S else failures + 1
    delay_s = 0.0 if failures == 1 else min(MAX_BACKOFF_S, 0.5 * 2**failures)
    return Restart(failures, delay_s)


class WriterSupervisor:
    """Starts a writer for `state` when none is alive, and restarts one that dies.

    Args:
        state: the log directory's state folder.
        settings: what a writer this process starts is started with.
        start_writer: False: only observe (`alive()`), never spawn.
        every_period: run by the watchdog thread each period, before the writer check.
    """

    def __init__(
        self,
        state: StateDir,
        settings: WriterSettings,
        start_writer: bool,
        every_period: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self._every_period = every_period
        self.settings = settings
        self._start_writer = start_writer
        self._writer_lock_fd = open_private(state.writer_lock)
        self._spawned: subprocess.Popen[bytes] | None = None
        self._spawn_failures = 0
        self._spawned_at = 0.0
        self._next_spawn_at = 0.0
        self._orphan_grace_until = 0.0
        self._stop = threading.Event()
        self.watchdog: threading.Thread | None = None
        self._warnings = WarningLimiter(log)
        # Set by the watchdog once the log directory (and the state folder in it) is gone;
        # read by the attachment's put and flush, which then stop touching the ring.
        self.log_dir_gone = False

    def alive(self) -> bool:
        """True while some process holds the writer lock."""
        return writer_alive(self._writer_lock_fd)

    def ensure_writer(self) -> None:
        """Start a writer if none holds the lock (and we did not just start one)."""
        if self._spawned is not None and self._spawned.poll() is not None:
            code = self._spawned.returncode
            self._spawned = None
            # ALREADY_RUNNING lost a race, LOG_DIR_GONE exited on purpose: neither failed.
            if code not in (RunExit.OK, RunExit.ALREADY_RUNNING, RunExit.LOG_DIR_GONE):
                self._orphan_grace_until = 0.0  # a failed launcher started no writer
                restart = decide_restart(self._spawn_failures, time.monotonic() - self._spawned_at)
                self._spawn_failures = restart.failures
                self._next_spawn_at = time.monotonic() + restart.delay_s
                self._warnings.warn(
                    ("writer exit", code),
                    "parquet-logger writer for %s exited with code %s; see %s (restart in %.0f s)",
                    self.state.log_dir,
                    code,
                    self.state.writer_log,
                    restart.delay_s,
                )
        if not self._start_writer or self._spawned is not None:
            return
        if self.alive():
            self._orphan_grace_until = 0.0  # it started: a later death is replaced at once
            return
        if time.monotonic() < max(self._next_spawn_at, self._orphan_grace_until):
            return
        orphan = in_ray_worker()
        self._spawned = spawn_writer(self.state, self.settings, orphan=orphan)
        self._spawned_at = time.monotonic()
        if orphan:
            self._orphan_grace_until = self._spawned_at + ORPHAN_START_GRACE_S
        # Reap it whenever it ends, even after this supervisor is closed: no zombie, and no
        # ResourceWarning from a Popen collected while its process runs.
        threading.Thread(
            target=self._spawned.wait, name="parquet-logger-reaper", daemon=True
        ).start()

    def start_watchdog(self) -> None:
        self._stop = threading.Event()
        thread = threading.Thread(target=self._watch, name="parquet-logger-watchdog", daemon=True)
        self.watchdog = thread
        thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(WATCHDOG_PERIOD_S):
            if not self.state.root.is_dir():
                self._stop_for_deleted_log_dir()
                return
            try:
                if self._every_period is not None:
                    self._every_period()
                if self._spawned is not None and self._spawned.poll() is None:
                    if self.alive():
                        self._spawn_failures = 0
                    continue
                self.ensure_writer()
            except Exception:  # the watchdog must outlive any one failure
                log.exception("parquet-logger watchdog for %s", self.state.log_dir)

    def _stop_for_deleted_log_dir(self) -> None:
        """The directory is gone (its writer sees it too, removes the ring and exits): say
        so once and stop watching, instead of failing to start a writer twice a second."""
        self.log_dir_gone = True
        log.warning(
            "parquet-logger: log directory %s was deleted while a logger was attached; "
            "this process logs nothing more there (close the logger before deleting its "
            "directory)",
            self.state.log_dir,
        )

    def close(self) -> None:
        """Stop the watchdog (a spawned writer runs on and exits once no producer is left)."""
        self._stop.set()
        watchdog = self.watchdog
        if watchdog is not None and watchdog is not threading.current_thread():
            # It may be testing the writer lock right now: let it finish before its
            # descriptor is closed (and its number reused for an unrelated file).
            watchdog.join(timeout=2.0)
        os.close(self._writer_lock_fd)

    def after_fork_in_child(self) -> None:
        """The watchdog thread and the spawned writer are the parent's: forget them (the
        watchdog restarts on the child's first put) and open the lock file afresh."""
        os.close(self._writer_lock_fd)
        self._writer_lock_fd = open_private(self.state.writer_lock)
        self._spawned = None
        self._stop = threading.Event()  # the parent's watchdog may have held its lock
        self.watchdog = None
