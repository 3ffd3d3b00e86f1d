"""Finding and starting a log directory's writer process, from the producer side."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from dataclasses import dataclass

from parquet_logger.s3config import S3Config
from parquet_logger.transport.statedir import StateDir, open_private

WRITER_MODULE = "parquet_logger_daemon"


@dataclass(frozen=True)
class WriterOptions:
    """Writer-level settings: they come from whichever process starts the writer."""

    flush_interval_s: float
    max_file_bytes: int
    ring_size_bytes: int
    max_buffered_events: int | None
    s3: S3Config | None = None

    def argv(self) -> list[str]:
        args = [
            "--flush-interval-s",
            repr(self.flush_interval_s),
            "--max-file-bytes",
            str(self.max_file_bytes),
            "--ring-size-bytes",
            str(self.ring_size_bytes),
        ]
        if self.max_buffered_events is not None:
            args += ["--buffer-size", str(self.max_buffered_events)]
        if self.s3 is not None:
            args += s3_argv(self.s3)
        return args


def s3_argv(s3: S3Config) -> list[str]:
    """The writer's command-line options for an S3Config (see parquet_logger_daemon.cli)."""
    args = [
        "--s3-bucket",
        s3.bucket,
        "--s3-prefix",
        s3.prefix,
        "--s3-on-failure",
        s3.on_failure,
        "--s3-retry-attempts",
        str(s3.retry_attempts),
        "--s3-connect-timeout",
        repr(s3.connect_timeout),
        "--s3-read-timeout",
        repr(s3.read_timeout),
        "--s3-deadline-s",
        repr(s3.deadline_s),
    ]
    if s3.endpoint_url:
        args += ["--s3-endpoint-url", s3.endpoint_url]
    if s3.region:
        args += ["--s3-region", s3.region]
    if not s3.keep_local:
        args.append("--s3-delete-local")
    return args


def writer_alive(writer_lock_fd: int) -> bool:
    """True while some process holds the writer lock (the kernel drops it when that dies)."""
    try:
        fcntl.flock(writer_lock_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(writer_lock_fd, fcntl.LOCK_UN)
    return False


def spawn_writer(state: StateDir, options: WriterOptions) -> subprocess.Popen[bytes]:
    """Start a detached writer that exits once no producer is attached.

    Detached means its own session, stdin from /dev/null and output to the state folder's
    writer.log: a writer holding the caller's pipes would make `subprocess.run(...,
    capture_output=True)` of a job that logs hang until the writer exits. Two processes that
    race here start two writers; the second finds the lock taken and exits at once.
    """
    log_fd = open_private(state.writer_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        argv = [sys.executable, "-m", WRITER_MODULE, "run", "--dir", str(state.log_dir)]
        return subprocess.Popen(
            [*argv, "--exit-when-idle", *options.argv()],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
