"""One process's connection to a log directory: its ring, its locks and its flush.

Every ParquetLogger of a process that logs into the same directory shares one Attachment.
While attached, the process holds a shared flock on `producers.lock`; an auto-started writer
exits only once it can take that lock exclusively, i.e. when no producer is left. Keeping a
writer alive is the WriterSupervisor's job (supervisor.py).
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import sys
import threading
import time

from parquet_logger.errors import EventsLostError, S3UploadError
from parquet_logger.transport import forking
from parquet_logger.transport.flush_barrier import FlushBarrier
from parquet_logger.transport.left_rings import LeftRings
from parquet_logger.transport.protocol import LiveWriterInfo, UploadFailure, drain_command
from parquet_logger.transport.ring import Ring, RingLock, RingStats
from parquet_logger.transport.statedir import StateDir, open_private
from parquet_logger.transport.supervisor import WriterSupervisor
from parquet_logger.transport.writer_config import WriterSettings

log = logging.getLogger("parquet_logger")

_ATTACH_LOCK_TIMEOUT_S = 10.0
# The watchdog's wait for the ring lock to move an orphan's records (else: its next period).
_SALVAGE_LOCK_WAIT_S = 0.05


class Attachment:
    """A process's ring handle for one directory (shared by its loggers, counted by refs)."""

    def __init__(self, state: StateDir, settings: WriterSettings, start_writer: bool) -> None:
        self.state = state
        self._settings = settings
        self._producers_fd = self._take_producer_share()
        try:
            self.ring = Ring.create_or_attach(state, settings.ring_size_bytes)
            self.lock = RingLock(state.ring_lock)
            self.supervisor = WriterSupervisor(
                state, settings, start_writer, every_period=self._follow_ring
            )
        except BaseException:
            os.close(self._producers_fd)
            raise
        self.s3 = settings.s3
        # The rings this process left because they were removed from under it, until their
        # records are written or moved (see _follow_ring); the move lock keeps the watchdog
        # and a flush from moving at once.
        self._left = LeftRings()
        self._moving = threading.Lock()
        self._upload_failures_seen = self.ring.upload_failures
        self.refs = 0
        self.closed = False
        self.atexit_timeout_s = 0.0  # the largest of its loggers' atexit_timeout_s
        self.supervisor.ensure_writer()
        self.supervisor.start_watchdog()

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
        if self.supervisor.log_dir_gone:
            return False  # counted as a drop: no writer will ever read this ring again
        if self.supervisor.watchdog is None:
            self.supervisor.start_watchdog()  # first put in a forked child
        return self.ring.put(body, self.lock, wait_s, lock_wait_s)

    def drop_reason(self) -> str:
        """Why the last put was dropped: the ring lock out of reach, or a full ring."""
        if self.supervisor.log_dir_gone:
            return "log directory deleted"
        holder = self.lock.blocked_by
        return f"ring lock held by {holder}" if holder else "ring full"

    def writer_alive(self) -> bool:
        return self.supervisor.alive()

    def _follow_ring(self) -> None:
        """On the watchdog thread: move off a removed ring, and move orphans' records."""
        if self.closed:
            return
        with self._moving:
            self._settle(_SALVAGE_LOCK_WAIT_S)

    def _settle(self, lock_wait_s: float) -> None:
        """If the ring's path no longer names our mapping (a /dev/shm cleaner removed it),
        move to the ring at the path, creating it if need be; then move the records of
        rings left that no writer serves into it (`left_rings`). Holding the move lock.

        The writer serves a removed ring it served already until it has been quiet for
        succession.QUIET_S, several watchdog periods: records put into it before the move
        (or by a thread that read `self.ring` just before) are still written. A removed ring
        it never served (removed twice in a row) is an orphan, whose records this process
        moves itself (`ring_salvage`). Switching is one reference store: the hot path reads
        `self.ring` once per put.
        """
        if self.ring.replaced():
            self._move_to_the_ring_at_the_path()
        self._left.settle(self.ring, self.lock, lock_wait_s)

    def _move_to_the_ring_at_the_path(self) -> None:
        new = Ring.create_or_attach(self.state, self._settings.ring_size_bytes)
        old = self.ring
        self._left.add(old)
        self.ring = new
        self._upload_failures_seen = new.upload_failures
        log.warning(
            "parquet-logger: the ring %s was removed while in use (a /dev/shm cleaner?); "
            "logging into the new ring at that path",
            old.path,
        )

    # ------------------------------------------------------------------ flush
    def flush(self, timeout: float) -> None:
        """Wait until every record this process put is in a durable file: in the current
        ring, and in rings it left (written by the writer, or moved: `_settle`).

        Raises:
            TimeoutError: the writer did not get there within `timeout` seconds.
            EventsLostError: corrupt ring data was skipped among these records.
            FileNotFoundError: the log directory was deleted before they were written.
            RingError: a removed ring could not be replaced.
        """
        if self.supervisor.log_dir_gone:
            self._check_nothing_lost_with_the_directory(self.ring.last_put_end)
            return
        barrier = FlushBarrier.start(
            self.state, "logged by this process", self.writer_alive, timeout
        )
        while True:
            with self._moving:
                self._settle(min(1.0, max(0.0, barrier.deadline - time.monotonic())))
                ring = self.ring
                wait = self._left.next_wait(ring)
                target = self._left.target(ring)
            if wait is None:
                break
            # False: the ring was removed or left to us meanwhile; settle and look again.
            barrier.commit(wait.ring, self.lock, wait.target, wait.revisit)
        self._report_skipped(ring, target)
        if self.s3 is not None:
            barrier.wait(lambda: ring.upload_settled, target, "uploaded")
            self._report_upload_failures()

    def _check_nothing_lost_with_the_directory(self, target: int) -> None:
        """After the directory was deleted: fine if this process's events were all written
        before it went (the writer exits without touching the ring words again).

        Raises:
            FileNotFoundError: some were not, and now never will be.
        """
        if self.ring.committed < target:
            raise FileNotFoundError(
                f"parquet-logger: the log directory {self.state.log_dir} was deleted before "
                f"all events logged by this process were written; they are lost"
            )

    def _report_skipped(self, ring: Ring, target: int) -> None:
        """Committed is not written: a span skipped as corrupt among this process's records
        since the last flush (in `ring` up to `target`, or in a ring left) makes flush() fail.

        Raises:
            EventsLostError: such a span was skipped.
        """
        with self._moving:
            lost = self._left.lost_span()
        if lost is not None:
            raise EventsLostError(*lost, self.state.log_dir)
        span = ring.skipped_among_puts(target)
        if span is not None:
            raise EventsLostError(ring.path, span, self.state.log_dir)

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

    def check_writer(self, settings: WriterSettings) -> None:
        """A logger must not silently log through a writer with another S3 target.

        Raises:
            ValueError: this process's or the live writer's S3 target differs from ours.
        """
        wanted = settings.s3.target if settings.s3 else None
        mine = self._settings.s3.target if self._settings.s3 else None
        if wanted != mine:
            raise ValueError(
                f"s3 target {wanted} differs from {mine}, the target of another ParquetLogger "
                f"of this process for {self.state.log_dir}"
            )
        if not self.writer_alive():
            return
        info = LiveWriterInfo.read(self.state.writer_settings)
        live = wanted if info is None else info.s3_target
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
        self.supervisor.close()
        os.close(self._producers_fd)
        self.lock.close()
        self.ring.close()
        with self._moving:
            self._left.close()

    def after_fork_in_child(self) -> None:
        """Own locks in the child: flock belongs to the open file description, which a
        forked child shares with its parent until it opens the files itself."""
        self.lock.reopen()
        inherited = self._producers_fd
        self._producers_fd = self._take_producer_share()
        os.close(inherited)
        self.supervisor.after_fork_in_child()
        self.ring.forget_puts()
        self._moving = threading.Lock()  # the parent's watchdog may have held it at fork
        self._left.forget()


_registry: dict[str, Attachment] = {}
_registry_lock = threading.Lock()


def acquire(state: StateDir, settings: WriterSettings, *, start_writer: bool = True) -> Attachment:
    """This process's attachment to `state`, created on first use; counts a reference."""
    with _registry_lock:
        current = _registry.get(str(state.root))
        if current is None or current.closed:
            current = Attachment(state, settings, start_writer)
            _registry[str(state.root)] = current
        try:
            current.check_writer(settings)
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
        except FileNotFoundError as exc:  # the log directory was deleted (said once)
            log.error("%s", exc)
        except EventsLostError as exc:
            log.error("parquet-logger: %s", exc)
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
        "running; they wait in %s until one runs. Write them now with: %s",
        pending,
        attachment.state.log_dir,
        attachment.ring.path,
        drain_command(attachment.state.log_dir),
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
    # Another thread of the parent may have held the registry lock or a ring lock at fork.
    global _registry_lock
    _registry_lock = threading.Lock()
    for attachment in list(_registry.values()):
        try:
            attachment.after_fork_in_child()
        except Exception:
            log.exception("parquet-logger: could not re-attach after fork")
            _registry.pop(str(attachment.state.root), None)


atexit.register(_flush_all_at_exit)
forking.register(_reinit_in_child)
# Private, but in every CPython since 3.9; without it a failed upload only logs at exit.
_register_thread_exit = getattr(threading, "_register_atexit", None)
if _register_thread_exit is not None:
    _register_thread_exit(_run_first)
