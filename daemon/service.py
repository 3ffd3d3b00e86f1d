"""The writer process: one per log directory, from start-up to exit.

It takes the writer lock, attaches the ring, assembles the engine (ring -> buffers -> flush
policy -> exporters) and runs the loop that paces it. Signal handlers only record the signal;
the loop acts on it. SIGTERM/SIGINT drain and exit 0, a second one exits at once (the ring
still holds every uncommitted record, so nothing committed or published is lost), SIGHUP
flushes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import time
from types import FrameType

from parquet_logger.errors import RingError
from parquet_logger.transport.lock_holder import flock_holders
from parquet_logger.transport.protocol import RunExit
from parquet_logger.transport.ring import Ring, RingLock
from parquet_logger.transport.statedir import StateDir, open_private
from parquet_logger.transport.writer_config import WriterSettings

from . import compaction
from .engine import Engine
from .exporter import Exporter
from .flush_policy import Action, FlushPolicy
from .parquet_exporter import ParquetExporter
from .s3_exporter import S3Exporter
from .status import Counters, WriterReport, write_settings, write_status
from .succession import Move, Retiring

log = logging.getLogger("parquet_logger_daemon")

IDLE_SLEEP_MAX_S = 0.02
HOUSEKEEPING_PERIOD_S = 0.25
STATUS_PERIOD_S = 1.0
BUSY_BATCH = 256  # records per pass above which the writer does not pause
TRICKLE_SLEEP_S = 0.005
LOCK_PATIENCE_S = 2.0  # how long shared holders (liveness probes) of the writer lock are waited for
CLAIM_LOCK_WAIT_S = 0.5  # the ring lock, to claim a ring (see ring_salvage; else checked without)


def take_writer_lock(fd: int, patience_s: float = LOCK_PATIENCE_S) -> bool:
    """Take the writer lock exclusively; False if another writer holds it.

    Liveness probes (producers' watchdogs, `status`) hold it shared for an instant: while no
    one holds it exclusively, keep trying for up to `patience_s` instead of taking a probe
    for a writer. /proc/locks tells the two apart; where it is missing, the wait is bounded.
    """
    deadline = time.monotonic() + patience_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline or flock_holders(fd, exclusive=True):
                return False
            time.sleep(0.005)


class WriterService:
    """One writer for one log directory (the writer lock guarantees it is the only one)."""

    # Set once the writer lock is held (see _run_locked).
    ring: Ring
    engine: Engine

    def __init__(self, log_dir: str | os.PathLike[str], config: WriterSettings) -> None:
        self.state = StateDir.for_log_dir(log_dir)
        self.config = config
        self.counters = Counters()
        self._stopping = False  # set by SIGTERM/SIGINT
        self._hup = False  # set by SIGHUP
        self._started_ns = time.time_ns()
        self._uploads: S3Exporter | None = None
        self._settings_written = False  # writer.json; retried in housekeeping until it is
        self._retiring: Retiring | None = None  # set while the ring's path names another file

    # ------------------------------------------------------------------ entry
    def run(self) -> int:
        self._install_signals()  # first: a SIGHUP during start-up must not kill the writer
        self.state.ensure()
        lock_fd = open_private(self.state.writer_lock)
        if not take_writer_lock(lock_fd):
            os.close(lock_fd)
            log.error("another writer is already running for %s", self.state.log_dir)
            return RunExit.ALREADY_RUNNING
        try:
            return self._run_locked()
        finally:
            os.close(lock_fd)  # releases the writer lock

    def _run_locked(self) -> int:
        # writer.json first: a logger that attaches while the ring is being made (reserving
        # its pages takes a while) must find this writer's S3 target to compare with its own.
        settings_errno = self._write_settings()
        self._lock = RingLock(self.state.ring_lock)  # to claim a ring and repair a broken head
        while (ring := self._claim_ring_at_the_path()) is None:
            pass  # removed as soon as attached: the next one at the path
        ring.writer_errno = settings_errno
        self._serve(ring)
        if compaction.recover_if_idle(self.state):
            log.info("finished a compaction that a crash interrupted")
        log.info(
            "writer %d for %s: ring %s (%d bytes), resuming at %d",
            os.getpid(),
            self.state.log_dir,
            self.ring.path,
            self.ring.capacity,
            self.engine.read_pos,
        )
        code = self._loop()
        self.engine.exporter.close(self.config.upload_drain_s)
        self.ring.writer_pid = 0
        self._write_status(running=False)
        self.ring.close()
        self._lock.close()
        return code

    def _claim_ring_at_the_path(self) -> Ring | None:
        """The ring at the path (created if missing), claimed by this writer; None if it was
        removed before the claim held: a producer may be moving its records out of it
        (`ring_salvage`), and the ring now at the path is the one to serve."""
        ring = Ring.create_or_attach(self.state, self.config.ring_size_bytes)
        if ring.claim(self._lock, CLAIM_LOCK_WAIT_S):
            return ring
        log.warning("the ring %s was removed as this writer attached to it", ring.path)
        ring.close()
        return None

    def _serve(self, ring: Ring) -> None:
        """Make `ring` (claimed) the one the engine drains, finishing a predecessor's commit
        first. The claim comes before the engine reads `committed`: up to the claim, a
        producer may have moved records out of it and advanced `committed` past them."""
        self.ring = ring
        self.engine = Engine(ring, self._exporter(), self._policy(), self.counters, self._lock)
        self.engine.recover()

    def _policy(self) -> FlushPolicy:
        cfg = self.config
        return FlushPolicy(cfg.flush_interval_s, cfg.max_file_bytes, cfg.buffer_size)

    def _exporter(self) -> Exporter:
        """Part files, then (with an S3 target) the upload stage after them."""
        exporter: Exporter = ParquetExporter(self.state, self.ring.ring_id, self.counters)
        if self.config.s3 is not None:
            self._uploads = S3Exporter(exporter, self.config.s3, self.state, self.ring)
            exporter = self._uploads
        return exporter

    def _install_signals(self) -> None:
        def record(signum: int, frame: FrameType | None) -> None:
            if signum == signal.SIGHUP:
                self._hup = True
            elif self._stopping:
                # Second stop signal: leave now; uncommitted records stay in the ring.
                os._exit(RunExit.FORCED)
            else:
                self._stopping = True

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, record)

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> int:
        idle_sleep = 0.0005
        next_housekeeping = 0.0
        next_status = 0.0
        while True:
            hup, self._hup = self._hup, False
            got, action = self.engine.step(hup=hup, stopping=self._stopping)
            self.ring.writer_heartbeat_ns = time.time_ns()
            if action is Action.STOP:
                self._stop()
                return RunExit.OK
            now = time.monotonic()
            if now >= next_housekeeping:
                next_housekeeping = now + HOUSEKEEPING_PERIOD_S
                if not self.state.root.is_dir():
                    self._abandon_deleted_log_dir()
                    return RunExit.LOG_DIR_GONE
                if self._housekeeping(now):
                    log.info("no producer left; ring removed, exiting")
                    return RunExit.OK
            if now >= next_status:
                next_status = now + STATUS_PERIOD_S
                self._write_status(running=True)
            if got >= BUSY_BATCH:
                idle_sleep = 0.0005  # a backlog: read on at once
            elif got:
                # A trickle (one LangChain call every few hundred microseconds): let records
                # gather, so the fixed cost of a pass is shared by many of them.
                idle_sleep = 0.0005
                time.sleep(TRICKLE_SLEEP_S)
            else:
                # Nothing wakes the writer: it polls `head`, backing off while idle.
                time.sleep(idle_sleep)
                idle_sleep = min(idle_sleep * 2, IDLE_SLEEP_MAX_S)

    def _housekeeping(self, now: float) -> bool:
        """Retry writer.json, follow a removed ring, and (auto-started) see whether no
        producer is left; True: the ring is drained and removed, exit."""
        if not self._settings_written:
            self.ring.writer_errno = self._write_settings()
        self._follow_ring(now)
        return (
            self.config.exit_when_idle
            and self._retiring is None  # serve the ring at the path first
            and self._remove_ring_if_unused()
        )

    def _follow_ring(self, now: float) -> None:
        """A ring removed from under this writer is served until it has been quiet and
        committed for succession.QUIET_S (producers on its mapping move over meanwhile), then
        the ring at its path (created here if no producer has yet)."""
        if self._retiring is None:
            if self.ring.replaced():
                log.warning(
                    "the ring %s was removed while this writer served it (a /dev/shm cleaner? "
                    "systemd-logind RemoveIPC?): writing out what producers still put in it, "
                    "then serving the ring at that path",
                    self.ring.path,
                )
                self._retiring = Retiring(self.ring.head, now)
            return
        self._retiring, move = self._retiring.decide(self.ring.head, self.ring.committed, now)
        if move is Move.WRITE_OUT:
            self.engine.write_everything()
        elif move is Move.SWITCH:
            self._switch_ring()

    def _switch_ring(self) -> None:
        """Leave the removed ring (everything in it committed) for the ring at its path.
        Records put into the removed ring after this are moved by their producers (the ring
        is then an orphan: `ring_salvage`)."""
        try:
            new = self._claim_ring_at_the_path()
        except (RingError, OSError) as exc:
            log.error("cannot open the new ring (retrying): %s", exc)
            return
        if new is None:
            return  # retried at the next housekeeping
        old = self.ring
        # Uploads still running stay in the spool: the new exporter's recovery resumes them.
        self.engine.exporter.close(self.config.upload_drain_s)
        old.writer_pid = 0
        self._uploads = None
        self._serve(new)
        self._retiring = None
        old.close()
        log.info("now serving the ring %s", new.path)

    def _stop(self) -> None:
        """A stop signal: write everything published, then remove the ring if unused."""
        if self.engine.write_everything():
            log.info("stop signal: committed up to %d; exiting", self.ring.committed)
        else:
            log.error(
                "stop signal: exiting with %d bytes not written; they stay in the "
                "ring for the next writer",
                self.ring.head - self.ring.committed,
            )
        self._remove_ring_if_unused()

    def _abandon_deleted_log_dir(self) -> None:
        """The log directory (with its state folder) was deleted, e.g. a test's
        `tempfile.TemporaryDirectory()` left while its logger was attached: remove the ring,
        whatever producers are left, so that its memory does not outlive the directory.

        Events not yet written cannot be: their directory is gone, and writing them would
        recreate it behind the back of whoever deleted it. They are counted in the log
        (the status file went with the directory) and dropped with the ring.
        """
        lost_records = self.ring.pending_records()
        if lost_records:
            log.error(
                "log directory %s was deleted with %d event(s) not yet written (%d bytes); "
                "they are lost: there is nowhere to write them. Ring removed, exiting",
                self.state.log_dir,
                lost_records,
                self.ring.head - self.ring.committed,
            )
        else:
            log.info("log directory %s was deleted; ring removed, exiting", self.state.log_dir)
        self.ring.unlink()

    # ------------------------------------------------------------------ idle exit
    def _remove_ring_if_unused(self) -> bool:
        """Drain, commit and remove the ring if no producer holds producers.lock.

        An auto-started writer exits once this succeeds. Taking the lock exclusively keeps a
        producer from attaching while the ring is drained and removed: it waits, then finds
        no writer and starts a fresh one with a fresh ring.
        """
        fd = open_private(self.state.producers_lock)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            if not self.engine.write_everything() or self.ring.head != self.ring.committed:
                return False  # a write failed: keep the ring and try again later
            self.ring.unlink()
            return True
        finally:
            os.close(fd)

    def _write_settings(self) -> int:
        """writer.json, tolerant like every write of the writer: a full or read-only disk at
        start is logged and counted, and the write retried at the next housekeeping, never a
        dead writer. Returns the errno for the ring's `writer_errno` word (0: written), which
        the caller publishes (the log may be on that disk)."""
        try:
            write_settings(self.state, self.config.s3)
        except OSError as exc:
            if self.counters.last_error != (error := f"{type(exc).__name__}: {exc}"):
                log.error("writer.json not written (retrying): %s", exc)
            self.counters.write_errors += 1
            self.counters.last_error = error
            return exc.errno or 0
        self._settings_written = True
        return 0

    def _write_status(self, running: bool) -> None:
        uploader = self._uploads.uploader if self._uploads is not None else None
        report = WriterReport(
            running, self._started_ns, self.counters, self.engine.buffers.invalid, self.ring.stats()
        )
        write_status(self.state, report, self.ring.path, self.config.s3, uploader)
