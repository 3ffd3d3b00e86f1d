"""The retrieval checkpoint: an append-only JSON-lines journal of what happened to each
background response, fsynced line by line, so a resumed run knows what is already done.

One line per state change, `{"id": ..., "state": ..., "status": ..., "error": ...}`; the last
line of an id wins. States:

| state       | meaning                                                  | on resume       |
|-------------|----------------------------------------------------------|-----------------|
| `logging`   | about to log the final event (written before logging it) | look in the log |
| `completed` | final event logged, the response completed               | skipped         |
| `failed`    | final event logged, a terminal failure                   | skipped         |
| `transient` | gave up for now (timeout, retries used up)               | retried         |

Appending costs one `write` and one `fsync`, whatever the journal's length. A line cut short
by a crash is cut off when the journal is next opened. A Parquet checkpoint of
langchain-callback-parquet-logger found at the path is converted once (atomically).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from parquet_logger.transport import forking
from parquet_logger.transport.statedir import fsync_dir

__all__ = ["DONE_STATES", "Checkpoint", "CheckpointEntry", "CheckpointWriter"]

DONE_STATES = frozenset({"completed", "failed"})
STATES = DONE_STATES | {"logging", "transient"}
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class CheckpointEntry:
    """The latest known state of one response."""

    state: str
    status: str = ""
    error: str = ""

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES


class Checkpoint:
    """An open journal: `entries`, the state of every id when it was opened (not updated
    by `append`, so memory does not grow during a run), and `append` for new lines.

    Only one process should append to a journal at a time; `append` is thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.entries: dict[str, CheckpointEntry] = {}
        self._lock = threading.Lock()
        forking.track(self)
        self._convert_legacy_parquet()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._load()
        except BaseException:
            os.close(self._fd)
            raise

    def after_fork_in_child(self) -> None:
        """Another thread of the parent may have held the lock at fork: take a fresh one."""
        self._lock = threading.Lock()

    def append(self, lines: Sequence[tuple[str, CheckpointEntry]]) -> None:
        """Write one line per (id, entry) and fsync: durable when this returns."""
        data = b"".join(_encode(response_id, entry) for response_id, entry in lines)
        if not data:
            return
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def _load(self) -> None:
        """Read every line; cut off a final line that a crash left without its newline."""
        with open(self.path, "rb") as f:
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) < len(data):
            os.ftruncate(self._fd, len(complete))
            os.fsync(self._fd)
        for number, line in enumerate(complete.splitlines(), 1):
            if line.strip():
                response_id, entry = _decode(line, self.path, number)
                self.entries[response_id] = entry

    def _convert_legacy_parquet(self) -> None:
        """Turn a Parquet checkpoint of the package users come from into a journal."""
        try:
            with open(self.path, "rb") as f:
                if f.read(4) != _PARQUET_MAGIC:
                    return
        except FileNotFoundError:
            return
        import pyarrow.parquet as pq

        table = pq.read_table(self.path).to_pylist()
        lines = []
        for row in table:
            error = row.get("error")
            # Its errors mix terminal and transient failures: retry them all.
            entry = CheckpointEntry("transient", "error", str(error)) if error else None
            lines.append(_encode(str(row["response_id"]), entry or CheckpointEntry("completed")))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(b"".join(lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)


class CheckpointWriter:
    """Group commit for asyncio: many coroutines await `write`; lines that arrive while an
    fsync runs (in `executor`, off the event loop) share the next one."""

    def __init__(self, checkpoint: Checkpoint, executor: Executor | None = None) -> None:
        self.checkpoint = checkpoint
        self._executor = executor
        self._pending: list[tuple[str, CheckpointEntry, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, response_id: str, entry: CheckpointEntry) -> None:
        """Return once the line is durable."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((response_id, entry, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        await asyncio.shield(done)  # a cancelled caller must not cancel others' commit

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            lines = [(response_id, entry) for response_id, entry, _ in batch]
            try:
                await loop.run_in_executor(self._executor, self.checkpoint.append, lines)
            except Exception as exc:
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)


def _encode(response_id: str, entry: CheckpointEntry) -> bytes:
    line: dict[str, Any] = {"id": response_id, "state": entry.state}
    if entry.status:
        line["status"] = entry.status
    if entry.error:
        line["error"] = entry.error
    return orjson.dumps(line) + b"\n"


def _decode(line: bytes, path: Path, number: int) -> tuple[str, CheckpointEntry]:
    try:
        raw = orjson.loads(line)
        state = raw["state"]
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        entry = CheckpointEntry(state, str(raw.get("status", "")), str(raw.get("error", "")))
        return str(raw["id"]), entry
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"checkpoint_file {str(path)!r}, line {number}: not a retrieval checkpoint ({exc})"
        ) from None
