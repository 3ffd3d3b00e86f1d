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
import sys
import threading
import time
from collections.abc import Callable

from parquet_logger.errors import S3UploadError
from parquet_logger.transport.protocol import RunExit, UploadFailure, WriterSettings
from parquet_logger.transport.ring import Ring, RingLock, RingStats
from parquet_logger.transport.statedir import StateDir, open_private
from parquet_logger.transport.writer_launch import WriterOptions, spawn_writer, writer_alive

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
        self.s3 = options.s3
        self._upload_failures_seen = self.ring.upload_failures
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
    def put(self, body: bytes, wait_s: float, lock_wait_s: float | None = None) -> bool:
        if self._watchdog is None:
            self._start_watchdog()  # first put in a forked child
        return self.ring.put(body, self.lock, wait_s, lock_wait_s)

    def drop_reason(self) -> str:
        """Why the last put was dropped: the ring lock out of reach, or a full ring."""
        holder = self.lock.blocked_by
        return f"ring lock held by {holder}" if holder else "ring full"

    # ------------------------------------------------------------------ writer care
    def writer_alive(self) -> bool:
        return writer_alive(self._writer_lock_fd)

    def ensure_writer(self) -> None:
        """Start a writer if none holds the lock (and we did not just start one)."""
        if self._spawned is not None and self._spawned.poll() is not None:
            code = self._spawned.returncode
            self._spawned = None
            if code not in (RunExit.OK, RunExit.ALREADY_RUNNING):  # lost the race: fine
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
        deadline = time.monotonic() + timeout
        if self.ring.committed < target:
            self.ring.request_flush(self.lock, timeout)
            self._wait_until(lambda: self.ring.committed, target, deadline, "in Parquet", timeout)
        if self.s3 is not None:
            self._wait_until(
                lambda: self.ring.upload_settled, target, deadline, "uploaded", timeout
            )
            self._report_upload_failures()

    def _wait_until(
        self, position: Callable[[], int], target: int, deadline: float, what: str, timeout: float
    ) -> None:
        # The writer publishes its progress only through these header words: poll them.
        pause = 0.0005
        while position() < target:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"parquet-logger: {target - position()} bytes of events logged "
                    f"by this process are not yet {what} under {self.state.log_dir} after "
                    f"{timeout} s (writer alive: {self.writer_alive()}; see "
                    f"{self.state.writer_log})"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def _report_upload_failures(self) -> None:
        """Raise (on_failure="error") or warn about uploads that failed since the last flush."""
        failures = self.ring.upload_failures
        if failures <= self._upload_failures_seen or self.s3 is None:
            return
        self._upload_failures_seen = failures
        detail = UploadFailure.read(self.state.upload_error) or UploadFailure()
        error = S3UploadError(
            detail.bucket or self.s3.bucket,
            detail.key or "?",
            detail.cause or "see the writer log",
        )
        if self.s3.on_failure == "error":
            raise error
        log.warning("parquet-logger: %s; the file stays in the spool and is retried", error)

    def check_writer(self, options: WriterOptions) -> None:
        """A logger must not silently log through a writer with another S3 target.

        Raises:
            ValueError: this process's or the live writer's S3 target differs from ours.
        """
        wanted = options.s3.target if options.s3 else None
        mine = self._options.s3.target if self._options.s3 else None
        if wanted != mine:
            raise ValueError(
                f"s3 target {wanted} differs from {mine}, the target of another ParquetLogger "
                f"of this process for {self.state.log_dir}"
            )
        if not self.writer_alive():
            return
        settings = WriterSettings.read(self.state.writer_settings)
        live = wanted if settings is None else settings.s3_target
        if wanted is not None and live != wanted:
            raise ValueError(
                f"s3 target {wanted} differs from {live or 'no upload'}, the target of the "
                f"writer already running for {self.state.log_dir} (stop it with "
                f"`parquet-logger-daemon stop --dir {self.state.log_dir}` or use its target)"
            )

    def stats(self) -> RingStats:
        return self.ring.stats()

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        """Detach: release the producer share so an auto-started writer may exit."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not threading.current_thread():
            # It may be testing the writer lock right now: let it finish before its
            # descriptor is closed (and its number reused for an unrelated file).
            watchdog.join(timeout=2.0)
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
        try:
            current.check_writer(options)
        except ValueError:
            if current.refs == 0:  # just created for this logger: do not leave it attached
                _registry.pop(str(state.root), None)
                current.close()
            raise
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
    failed_upload = False
    for attachment in attachments:
        try:
            attachment.flush(attachment.atexit_timeout_s)
        except S3UploadError as exc:
            log.error("parquet-logger: %s", exc)
            failed_upload = True
        except TimeoutError as exc:
            if attachment.writer_alive():
                log.error("%s", exc)
            else:
                _report_stranded(attachment)
        except Exception:
            log.exception("parquet-logger: flush at exit failed for %s", attachment.state.log_dir)
    with _registry_lock:
        for attachment in attachments:
            _registry.pop(str(attachment.state.root), None)
            attachment.close()
    if failed_upload:
        # on_failure="error": a job whose logs did not reach S3 must not look successful.
        _exit_failed_after_other_handlers()


def _report_stranded(attachment: Attachment) -> None:
    """Say loudly that events stay behind in the ring with no writer to write them: they
    survive this process (the ring is in /dev/shm), not a reboot or a torn-down container."""
    pending = attachment.ring.pending_records()
    log.error(
        "parquet-logger: %d events logged to %s are not in Parquet yet and no writer is "
        "running; they wait in %s until one runs. Write them now with: "
        "parquet-logger-daemon run --dir %s --exit-when-idle",
        pending,
        attachment.state.log_dir,
        attachment.ring.path,
        attachment.state.log_dir,
    )


def _exit_failed_after_other_handlers() -> None:
    """End the process with status 1 once every other exit handler has run, each once.

    Only os._exit sets the status this late, and it skips the handlers not yet run (among
    them logging.shutdown, with the application's buffered log lines). So this hook runs
    first (see _run_first) and, on failure, runs all the others itself before exiting.
    """
    atexit.unregister(_flush_all_at_exit)
    if _runs_first:
        atexit._run_exitfuncs()  # the application's handlers, in Python's own order
    else:
        log.error("parquet-logger: the process exits with status 0 despite the failed upload")
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


_runs_first = False


def _run_first() -> None:
    """At the start of interpreter shutdown (threads' exit hooks run before atexit's), make
    our exit hook the last registered, so that it is the first to run: no application
    handler has run yet when it may have to end the process."""
    global _runs_first
    atexit.unregister(_flush_all_at_exit)
    atexit.register(_flush_all_at_exit)
    _runs_first = True


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
# Private, but in every CPython since 3.9; without it a failed upload only logs at exit.
_register_thread_exit = getattr(threading, "_register_atexit", None)
if _register_thread_exit is not None:
    _register_thread_exit(_run_first)
os.register_at_fork(after_in_child=_reinit_in_child)
