"""Finding and starting a log directory's writer process, from the producer side.

In a Ray worker the writer is started through a short-lived launcher, so that it is not the
worker's child: Ray kills a worker's children when the worker exits (its
`kill_child_processes_on_worker_exit`, on by default), and a node's writer must outlive the
churn of the workers that log into it.
"""

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
# Run by the launcher process: start the writer (inheriting the launcher's new session and its
# output to writer.log) and exit at once, leaving the writer to init.
_LAUNCHER = "import subprocess, sys; subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)"


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


def in_ray_worker() -> bool:
    """True in a Ray worker process (not a driver): there a writer must not be our child."""
    worker = sys.modules.get("ray._private.worker")  # only if this process imported Ray
    if worker is None:
        return False
    mode = getattr(getattr(worker, "global_worker", None), "mode", None)
    return mode is not None and mode == getattr(worker, "WORKER_MODE", None)


def spawn_writer(
    state: StateDir, settings: WriterSettings, *, orphan: bool = False
) -> subprocess.Popen[bytes]:
    """Start a detached writer that exits once no producer is attached.

    Detached means its own session, stdin from /dev/null and output to the state folder's
    writer.log: a writer holding the caller's pipes would make `subprocess.run(...,
    capture_output=True)` of a job that logs hang until the writer exits. Two processes that
    race here start two writers; the second finds the lock taken and exits at once.

    Args:
        state: the log directory's state folder.
        settings: the writer's settings.
        orphan: start it through a launcher that exits at once, so that the writer is not
            this process's child (in a Ray worker). The returned process is the launcher's.
    """
    argv = writer_argv(state, settings)
    if orphan:
        argv = [sys.executable, "-c", _LAUNCHER, *argv]
    log_fd = open_private(state.writer_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
