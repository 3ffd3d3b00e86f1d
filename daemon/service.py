"""The writer's service loop: drain the ring, buffer, write part files, commit, repeat.

Signal handlers only record the signal; the loop acts on it. SIGTERM/SIGINT drain and exit 0,
a second one exits at once (the ring still holds every uncommitted record, so nothing
committed or published is lost), SIGHUP flushes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import orjson

from parquet_logger.s3config import S3Config
from parquet_logger.transport import ring as ring_layout
from parquet_logger.transport.ring import Ring
from parquet_logger.transport.statedir import StateDir, fsync_dir, open_private, write_private

from . import journal, partfile
from .buffers import Buffers, PartitionBuffer
from .spool import Spool, SpoolEntry
from .status import Counters, WriterReport, write_settings, write_status
from .tables import partition_table
from .upload import Uploader, key_for

log = logging.getLogger("parquet_logger_daemon")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ALREADY_RUNNING = 3
EXIT_FORCED = 4

READ_CHUNK_BYTES = 8 * 1024 * 1024
IDLE_SLEEP_MAX_S = 0.02
HOUSEKEEPING_PERIOD_S = 0.25
STATUS_PERIOD_S = 1.0
WRITE_RETRY_S = 1.0
FLUSH_COALESCE_S = 0.05
BUSY_BATCH = 256  # records per pass above which the writer does not pause
TRICKLE_SLEEP_S = 0.005
SEAL_ROWS = 2048  # buffered records of a partition written as a row group ahead of a flush


@dataclass(frozen=True)
class WriterConfig:
    """Writer-level settings (from the CLI, or from the logger that started the writer)."""

    flush_interval_s: float = 1.0
    max_file_bytes: int = 128 * 1024 * 1024
    ring_size_bytes: int = 128 * 1024 * 1024
    buffer_size: int | None = None
    exit_when_idle: bool = False
    s3: S3Config | None = None
    upload_drain_s: float = 30.0  # how long a stopping writer waits for queued uploads


class WriterService:
    """One writer for one log directory (the writer lock guarantees it is the only one)."""

    def __init__(self, log_dir: str | os.PathLike[str], config: WriterConfig) -> None:
        self.state = StateDir.for_log_dir(log_dir)
        self.config = config
        self.counters = Counters()
        self._buffers = Buffers()
        self._namer = partfile.PartNamer()
        self._stopping = False  # set by SIGTERM/SIGINT
        self._hup = False  # set by SIGHUP
        self._started_ns = time.time_ns()
        self._read_pos = 0
        # None: a flush asked for before this writer started is honoured at once.
        self._seen_flush_requests: int | None = None
        self._flush_target = 0  # ring position a flush request asked to have committed
        self._flush_not_before = 0.0  # flush requests are coalesced until then
        self._quiet = False  # the last pass over the ring found nothing new
        # When the oldest record not yet written was read: the interval flush bounds how
        # long a record waits, so a burst after a quiet spell does not start with a file of
        # its first few records.
        self._oldest_unwritten_at: float | None = None
        self._write_blocked_until = 0.0
        self._spool: Spool | None = None
        self._uploader: Uploader | None = None

    # ------------------------------------------------------------------ entry
    def run(self) -> int:
        self._install_signals()  # first: a SIGHUP during start-up must not kill the writer
        self.state.ensure()
        lock_fd = open_private(self.state.writer_lock)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            log.error("another writer is already running for %s", self.state.log_dir)
            return EXIT_ALREADY_RUNNING
        try:
            return self._run_locked()
        finally:
            os.close(lock_fd)  # releases the writer lock

    def _run_locked(self) -> int:
        ring = Ring.create_or_attach(self.state, self.config.ring_size_bytes)
        write_settings(self.state, self.config.s3)
        if self.config.s3 is not None:
            self._spool = Spool(self.state.root / "spool")
        self._recover(ring)
        self._read_pos = ring.committed
        ring.set_word(ring_layout.WRITER_PID, os.getpid())
        if self.config.s3 is not None and self._spool is not None:
            pending = self._spool.pending()
            if not pending:
                ring.set_word(ring_layout.UPLOAD_SETTLED, ring.committed)
            # else: files a dead writer committed but did not upload are not settled yet; a
            # producer's flush() waits until they are (settled = committed once they are done).
            self._uploader = Uploader(
                self.config.s3,
                self._spool,
                on_settled=lambda end: ring.set_word(ring_layout.UPLOAD_SETTLED, end),
                on_failure=lambda: self._upload_failed(ring),
            )
            self._uploader.start(pending, settles=ring.committed)
        log.info(
            "writer %d for %s: ring %s (%d bytes), resuming at %d",
            os.getpid(),
            self.state.log_dir,
            ring.path,
            ring.capacity,
            self._read_pos,
        )
        code = self._loop(ring)
        if self._uploader is not None and not self._uploader.stop(self.config.upload_drain_s):
            log.warning("exiting with uploads still pending; the next writer resumes them")
        ring.set_word(ring_layout.WRITER_PID, 0)
        self._write_status(ring, running=False)
        ring.close()
        return code

    def _install_signals(self) -> None:
        def record(signum: int, frame: FrameType | None) -> None:
            if signum == signal.SIGHUP:
                self._hup = True
            elif self._stopping:
                # Second stop signal: leave now; uncommitted records stay in the ring.
                os._exit(EXIT_FORCED)
            else:
                self._stopping = True

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, record)

    # ------------------------------------------------------------------ recovery
    def _recover(self, ring: Ring) -> None:
        """Finish a commit that a crashed writer journalled, then drop its stray .tmp files."""
        entry = journal.read(self.state.journal)
        if entry is not None and entry.ring_id == ring.ring_id and entry.end > ring.committed:
            for tmp, final in entry.files:
                partfile.publish(Path(tmp), Path(final))
            for folder in {Path(final).parent for _, final in entry.files}:
                fsync_dir(folder)
            self._spool_files([Path(final) for _, final in entry.files])
            ring.commit(entry.end)
            log.info("finished an interrupted commit up to %d", entry.end)
        for stale in partfile.stale_tmp_files(self.state.log_dir):
            stale.unlink(missing_ok=True)
            log.info("removed %s left by a crashed writer", stale)

    # ------------------------------------------------------------------ the loop
    def _loop(self, ring: Ring) -> int:
        idle_sleep = 0.0005
        next_housekeeping = 0.0
        next_status = 0.0
        while True:
            got = self._drain(ring)
            now = time.monotonic()
            ring.set_word(ring_layout.WRITER_HEARTBEAT, time.time_ns())
            if self._stopping:
                if self._write_everything(ring):
                    log.info("stop signal: committed up to %d; exiting", ring.committed)
                else:
                    log.error(
                        "stop signal: exiting with %d bytes not written; they stay in the "
                        "ring for the next writer",
                        ring.head - ring.committed,
                    )
                self._remove_ring_if_unused(ring)
                return EXIT_OK
            if self._flush_due(ring, now):
                self._flush(ring)
            elif now >= self._write_blocked_until:
                self._seal(ring)
            if now >= next_housekeeping:
                next_housekeeping = now + HOUSEKEEPING_PERIOD_S
                if self.config.exit_when_idle and self._remove_ring_if_unused(ring):
                    log.info("no producer left; ring removed, exiting")
                    return EXIT_OK
            if now >= next_status:
                next_status = now + STATUS_PERIOD_S
                self._write_status(ring, running=True)
            self._quiet = got == 0
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

    def _drain(self, ring: Ring) -> int:
        """Read published records into the buffers until about max_file_bytes are buffered
        (so that one file stays near that size); returns how many were read."""
        count = 0
        now_us = time.time_ns() // 1000
        head = ring.head
        limit = self.config.max_file_bytes
        while self._read_pos < head and self._buffers.nbytes < limit:
            room = min(READ_CHUNK_BYTES, limit - self._buffers.nbytes)
            bodies, pos, corrupt = ring.read(self._read_pos, room)
            if self._oldest_unwritten_at is None and pos > self._read_pos:
                self._oldest_unwritten_at = time.monotonic()
            for body in bodies:
                self._buffers.add(body, now_us)
            self._read_pos = pos
            count += len(bodies)
            if corrupt:
                self.counters.corrupt_frames += corrupt
                ring.set_word(ring_layout.CORRUPT_FRAMES, self.counters.corrupt_frames)
                log.warning("skipped %d corrupt frame(s) in the ring", corrupt)
        self.counters.received += count
        return count

    def _flush_due(self, ring: Ring, now: float) -> bool:
        requests = ring.word(ring_layout.FLUSH_REQUESTS)
        if requests != self._seen_flush_requests or self._hup:
            # Everything published until now must be written, over as many files as it
            # takes; the asking producer waits for `committed` to pass its own records.
            self._seen_flush_requests = requests
            self._hup = False
            if self._flush_target <= ring.committed:
                # Processes often flush together (workers of one pool finishing): wait a
                # moment for the others, so that they share files instead of a file each.
                self._flush_not_before = now + FLUSH_COALESCE_S
            self._flush_target = max(self._flush_target, ring.head)
        if now < self._write_blocked_until:
            return False
        buffers = self._buffers
        if self._read_pos == ring.committed:
            return False
        if ring.committed < self._flush_target:
            # Coalesce only while other producers are still publishing: a lone process
            # that flushes (and waits) leaves the ring quiet, and is served at once.
            return (
                self._quiet
                or now >= self._flush_not_before
                or buffers.nbytes >= self.config.max_file_bytes
            )
        if buffers.rows == 0:
            return True  # only invalid frames were read: just commit past them
        cfg = self.config
        return (
            now - (self._oldest_unwritten_at or now) >= cfg.flush_interval_s
            or buffers.nbytes >= cfg.max_file_bytes
            or (cfg.buffer_size is not None and buffers.rows >= cfg.buffer_size)
            # Space is freed only by commits: write before producers run out of room.
            or (self._read_pos - ring.committed) * 2 >= ring.capacity
        )

    def _write_everything(self, ring: Ring) -> bool:
        """Write until everything published when called is committed; False if a write
        failed (the rest then stays in the ring)."""
        target = ring.head
        while ring.committed < target:
            self._drain(ring)
            if not self._flush(ring):
                return False
        return True

    def _flush(self, ring: Ring) -> bool:
        """Finish every buffered partition's part file, then commit the ring.

        Returns False when the write failed (the records are then read again from the ring,
        where they stay until committed).
        """
        end = self._read_pos
        if end == ring.committed:
            self._oldest_unwritten_at = None
            return True
        taken = self._buffers.take()
        try:
            written, files = self._write_partitions(ring, taken, end)
            spooled = self._spool_files(files)
        except OSError as exc:
            self._write_failed(ring, exc)  # _write_partitions dropped the taken files
            return False
        ring.commit(end)
        self._oldest_unwritten_at = None
        if self._uploader is not None:
            self._uploader.submit(end, spooled)
        self.counters.written += written
        self.counters.flushes += 1
        self.counters.last_flush_ns = time.time_ns()
        return True

    def _write_failed(self, ring: Ring, exc: OSError) -> None:
        """Drop what is buffered and part files in the making, and read the uncommitted
        records again from the ring once the retry delay has passed."""
        self._buffers.discard()
        self._read_pos = ring.committed
        self._oldest_unwritten_at = None
        self.counters.write_errors += 1
        self.counters.last_error = f"{type(exc).__name__}: {exc}"
        self._write_blocked_until = time.monotonic() + WRITE_RETRY_S
        log.error("writing part files failed (records stay in the ring, retrying): %s", exc)

    def _spool_files(self, files: list[Path]) -> list[SpoolEntry]:
        """Record the upload of each file before the ring is committed past its records."""
        if self._spool is None or self.config.s3 is None:
            return []
        prefix = self.config.s3.prefix
        return self._spool.add_all(
            [(f, key_for(prefix, f.relative_to(self.state.log_dir).as_posix())) for f in files]
        )

    def _write_partitions(
        self, ring: Ring, taken: dict[str, PartitionBuffer], end: int
    ) -> tuple[int, list[Path]]:
        files: list[partfile.PartWriter] = []
        try:
            for partition, buf in taken.items():
                if buf.metas:
                    self._write_pending(partition, buf)
                if buf.file is not None:
                    files.append(buf.file)
                    buf.file.finish()
            if files:
                entry = journal.JournalEntry(
                    ring.ring_id, end, [(str(f.tmp), str(f.final)) for f in files]
                )
                journal.write(self.state.journal, entry)
        except BaseException:
            for buf in taken.values():
                if buf.file is not None:
                    buf.file.abort()
            raise
        for part in files:
            partfile.publish(part.tmp, part.final)
        for folder in {part.final.parent for part in files}:
            fsync_dir(folder)
        self.counters.files_written += len(files)
        return sum(part.rows for part in files), [part.final for part in files]

    def _seal(self, ring: Ring) -> None:
        """Write full chunks of buffered records as row groups now, while producers are
        still publishing, so that a flush has only the rest left (a producer waiting in
        flush() then waits for little more than the last chunk, the footer and fsync)."""
        try:
            for partition, buf in self._buffers.partitions.items():
                if len(buf.metas) >= SEAL_ROWS:
                    self._write_pending(partition, buf)
        except OSError as exc:
            self._write_failed(ring, exc)

    def _write_pending(self, partition: str, buf: PartitionBuffer) -> None:
        """The partition's buffered records as one row group of its part file (opened on
        first use); their ring views are dropped."""
        table, malformed = partition_table(partition, buf.metas, buf.payloads)
        if malformed:
            self.counters.invalid_records += 1
        if buf.file is None:
            folder = partfile.partition_folder(self.state.log_dir, partition)
            final = folder / self._namer.next_name()
            buf.file = partfile.PartWriter(final, table.schema)
        buf.file.write(table)
        buf.metas, buf.payloads = [], []

    # ------------------------------------------------------------------ idle exit
    def _remove_ring_if_unused(self, ring: Ring) -> bool:
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
            if not self._write_everything(ring) or ring.head != ring.committed:
                return False  # a write failed: keep the ring and try again later
            ring.unlink()
            return True
        finally:
            os.close(fd)

    def _upload_failed(self, ring: Ring) -> None:
        """On the upload thread: publish the failure's detail, then count it (producers'
        flush() sees the count and reads the detail to raise or warn)."""
        assert self._uploader is not None
        try:
            write_private(self.state.upload_error, orjson.dumps(self._uploader.counters.last_error))
        except OSError as exc:
            log.error("could not record the upload failure's detail: %s", exc)
        ring.set_word(ring_layout.UPLOAD_FAILURES, ring.word(ring_layout.UPLOAD_FAILURES) + 1)

    def _write_status(self, ring: Ring, running: bool) -> None:
        write_status(
            self.state,
            WriterReport(
                running, self._started_ns, self.counters, self._buffers.invalid, ring.stats()
            ),
            ring.path,
            self.config.s3,
            self._uploader,
        )
