"""Finding and starting a log directory's writer process, from the producer side."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from dataclasses import replace

from parquet_logger.transport.statedir import StateDir, open_private
from parquet_logger.transport.writer_config import WriterSettings

WRITER_MODULE = "parquet_logger_daemon"
# The writer's option that takes a whole WriterSettings as one JSON document.
CONFIG_JSON_FLAG = "--config-json"


def writer_alive(writer_lock_fd: int) -> bool:
    """True while some process holds the writer lock (the kernel drops it when that dies)."""
    try:
        fcntl.flock(writer_lock_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(writer_lock_fd, fcntl.LOCK_UN)
    return False


def writer_argv(state: StateDir, settings: WriterSettings) -> list[str]:
    """The command line of an auto-started writer: `run --dir DIR --config-json JSON`.

    The settings travel as one JSON document on the command line rather than in a file: it
    is atomic with the process (no file for two racing spawners to overwrite, none left
    behind by a spawner that dies), `ps` shows what the writer was started with, and it
    holds no secret (S3Config carries no credentials; boto3 finds those itself).
    """
    document = replace(settings, exit_when_idle=True).to_json()
    run = [sys.executable, "-m", WRITER_MODULE, "run", "--dir", str(state.log_dir)]
    return [*run, CONFIG_JSON_FLAG, document]


def spawn_writer(state: StateDir, settings: WriterSettings) -> subprocess.Popen[bytes]:
    """Start a detached writer that exits once no producer is attached.

    Detached means its own session, stdin from /dev/null and output to the state folder's
    writer.log: a writer holding the caller's pipes would make `subprocess.run(...,
    capture_output=True)` of a job that logs hang until the writer exits. Two processes that
    race here start two writers; the second finds the lock taken and exits at once.
    """
    log_fd = open_private(state.writer_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        return subprocess.Popen(
            writer_argv(state, settings),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
