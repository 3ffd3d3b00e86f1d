"""What the writer reports: its counters, status.json (read by `status`) and writer.json
(read by loggers that attach)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from parquet_logger.s3config import S3Config
from parquet_logger.transport.protocol import LiveWriterInfo, WriterStatus
from parquet_logger.transport.ring import RingStats
from parquet_logger.transport.statedir import StateDir

from .upload import Uploader

log = logging.getLogger("parquet_logger_daemon")


@dataclass
class Counters:
    received: int = 0
    written: int = 0
    invalid_records: int = 0
    corrupt_frames: int = 0  # corrupt spans skipped (each one damaged frame or more)
    corrupt_bytes: int = 0
    files_written: int = 0
    flushes: int = 0
    write_errors: int = 0
    last_flush_ns: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class WriterReport:
    """The writer's side of one status snapshot."""

    running: bool
    started_ns: int
    counters: Counters
    invalid_buffered: int  # invalid records read but not written yet
    ring: RingStats


def write_settings(state: StateDir, s3: S3Config | None) -> None:
    """writer.json: what this writer does, for loggers that attach to it."""
    LiveWriterInfo(pid=os.getpid(), s3_target=s3.target if s3 else None).write(
        state.writer_settings
    )


def write_status(
    state: StateDir,
    report: WriterReport,
    ring_path: Path,
    s3: S3Config | None,
    uploader: Uploader | None,
) -> None:
    """status.json; a failure to write it is logged, never raised (it is advisory)."""
    c, stats = report.counters, report.ring
    status = WriterStatus(
        running=report.running,
        pid=os.getpid(),
        started_ns=report.started_ns,
        updated_ns=time.time_ns(),
        log_dir=str(state.log_dir),
        events_received=c.received,
        events_written=c.written,
        invalid_records=c.invalid_records + report.invalid_buffered,
        corrupt_frames=c.corrupt_frames,
        corrupt_bytes=c.corrupt_bytes,
        files_written=c.files_written,
        flushes=c.flushes,
        write_errors=c.write_errors,
        last_error=c.last_error,
        last_flush_ns=c.last_flush_ns,
        events_dropped=stats.dropped_events,
        ring_capacity=stats.capacity,
        ring_fill=stats.fill,
        ring_high_water=stats.high_water,
        ring_path=str(ring_path),
    )
    if uploader is not None and s3 is not None:
        last_error = uploader.counters.last_error
        status = replace(
            status,
            s3_target=s3.target,
            files_pending_upload=uploader.pending,
            files_uploaded=uploader.counters.uploaded,
            upload_failures=uploader.counters.failed,
            upload_retries=uploader.counters.retries,
            last_upload_error=last_error.to_dict() if last_error is not None else {},
        )
    try:
        status.write(state.status)
    except OSError as exc:
        log.debug("status file not written: %s", exc)
