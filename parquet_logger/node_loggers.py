"""The loggers of a Ray worker process: a ParquetLogger sent to Ray workers becomes, in each
worker, one ParquetLogger on its node's log directory (one writer per node, shared by every
worker there), which the task flushes before it returns: Ray runs no `atexit` in a worker it
kills, and a worker may be reused or killed as soon as its task is done.

The driver pickles a task's inputs with `dumps_for_nodes`, which sends every ParquetLogger in
them as its settings (`NodeLogger`); unpickling in the worker calls `NodeLogger.get()`.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import threading
from dataclasses import dataclass, field
from typing import Any

from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.transport import forking

log = logging.getLogger("parquet_logger")

__all__ = [
    "NODE_ID_FIELD",
    "NodeLogger",
    "close_node_loggers",
    "dumps_for_nodes",
    "flush_node_loggers",
]

# In a node log directory, replaced by the Ray node's id (e.g. several nodes on one machine).
NODE_ID_FIELD = "{node_id}"

# This process's loggers, by (directory, settings): a worker that runs many tasks attaches
# once. Read and written by the task's thread and by Ray's unpickling of a task's arguments.
_loggers: dict[tuple[str, bytes], ParquetLogger] = {}
_loggers_lock = threading.Lock()


def _renew_lock_in_child() -> None:
    # Another thread of the parent may have held the lock at fork; the loggers stay (their
    # attachments renew their own locks).
    global _loggers_lock
    _loggers_lock = threading.Lock()


forking.register(_renew_lock_in_child)


@dataclass(frozen=True)
class NodeLogger:
    """A ParquetLogger for Ray workers: pickles to the logger's settings; `get()`, in a
    worker, returns that process's ParquetLogger on the node's log directory.

    Args:
        state: the logger's settings (what a ParquetLogger pickles to).
        log_dir: the directory on each node; None: the logger's own `log_dir` (the same
            path on every node). `{node_id}` in it becomes the Ray node's id.

    Raises:
        TypeError: `log_dir` is not a str, a path or None.
    """

    state: dict[str, Any] = field(repr=False)
    log_dir: str | None = None

    def __post_init__(self) -> None:
        if self.log_dir is not None and not isinstance(self.log_dir, str):
            raise TypeError(f"log_dir must be a str or None, got {self.log_dir!r}")

    @classmethod
    def of(cls, logger: ParquetLogger, log_dir: str | os.PathLike[str] | None = None) -> NodeLogger:
        """The NodeLogger of `logger`, logging to `log_dir` on each node (see the class)."""
        if not isinstance(logger, ParquetLogger):
            raise TypeError(f"logger must be a ParquetLogger, got {type(logger).__name__}")
        if log_dir is not None and not isinstance(log_dir, str | os.PathLike):
            raise TypeError(f"log_dir must be a str, a path or None, got {log_dir!r}")
        # Resolved here, as the logger's own log_dir is: a worker's working directory differs.
        return cls(logger.__getstate__(), None if log_dir is None else os.path.abspath(log_dir))

    def directory(self) -> str:
        """This node's log directory."""
        if self.log_dir is None:
            return os.fspath(self.state["log_dir"])
        if NODE_ID_FIELD not in self.log_dir:
            return self.log_dir
        import ray  # only a template needs Ray, and only in a Ray process

        return self.log_dir.replace(NODE_ID_FIELD, ray.get_runtime_context().get_node_id())

    def get(self) -> ParquetLogger:
        """This process's ParquetLogger on the node's directory (created on first use)."""
        directory = self.directory()
        settings = {k: v for k, v in self.state.items() if k != "log_dir"}
        key = (directory, pickle.dumps(settings))
        with _loggers_lock:
            logger = _loggers.get(key)
            if logger is None:
                logger = ParquetLogger.__new__(ParquetLogger)
                logger.__setstate__({**settings, "log_dir": directory})
                _loggers[key] = logger
            return logger


def flush_node_loggers(timeout: float | None = None) -> None:
    """Flush every node logger of this process (each directory once): afterwards all their
    events are in durable Parquet files (and uploaded, with S3).

    Args:
        timeout: seconds per directory; None: the logger's `atexit_timeout_s`.

    Raises:
        Exception: the first failure (e.g. `S3UploadError`), after every directory was tried.
    """
    with _loggers_lock:
        by_dir = {os.fspath(logger.log_dir): logger for logger in _loggers.values()}
    first: Exception | None = None
    for logger in by_dir.values():
        try:
            logger.flush(logger.settings.atexit_timeout_s if timeout is None else timeout)
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first


def close_node_loggers() -> None:
    """Flush and detach every node logger of this process (the next `get()` attaches anew);
    a node's writer exits once no process is attached to its directory."""
    with _loggers_lock:
        loggers = list(_loggers.values())
        _loggers.clear()
    for logger in loggers:
        logger.close()


def node_logger_from_state(state: dict[str, Any], log_dir: str | None) -> ParquetLogger:
    """Unpickling's side of `dumps_for_nodes` (module-level: pickled by reference)."""
    return NodeLogger(state, log_dir).get()


def dumps_for_nodes(obj: Any, log_dir: str | None) -> bytes:
    """Pickle `obj` with Ray's cloudpickle, each ParquetLogger in it (a batch callback, in a
    row's config, inside a model) sent so that it unpickles as `NodeLogger(..., log_dir).get()`.
    """
    from ray.cloudpickle import CloudPickler

    class NodePickler(CloudPickler):
        def reducer_override(self, item: Any) -> Any:
            if isinstance(item, ParquetLogger):
                return node_logger_from_state, (item.__getstate__(), log_dir)
            return super().reducer_override(item)

    buffer = io.BytesIO()
    NodePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()
