"""`batch_run(..., processes=N)`: contiguous row ranges (shards) run by N worker processes,
each with the in-process `run_all` machinery; one progress bar and the results in the parent.

| shared state          | who writes it                     | who reads it                 |
|-----------------------|-----------------------------------|------------------------------|
| counters[2k], [2k+1]  | worker k only (rows done, failed) | the parent's progress bar    |
| stop (a byte)         | the parent only                   | every worker's stop watcher  |
| pipe k                | worker k, one message at the end  | the parent                   |

One writer per slot, so the counters need no lock; a slightly stale read only delays the bar.
A worker whose pipe closes without its message has crashed: its rows fail with
`WorkerCrashedError`, the other workers carry on. A worker that exits with
`UNGUARDED_MAIN_EXIT` re-ran a script with no `__main__` guard: the whole job stops at once
with `UnguardedMainError`.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

import pandas as pd

from parquet_logger.batch.options import BatchOptions
from parquet_logger.batch.row_call import parquet_loggers
from parquet_logger.batch.rows import RowSpec, run_all
from parquet_logger.errors import UnguardedMainError, WorkerCrashedError
from parquet_logger.progress import Progress

log = logging.getLogger("parquet_logger.batch")

__all__ = ["UnguardedMainError", "WorkerCrashedError", "run_in_processes", "shard_bounds"]

DEFAULT_START_METHOD = "spawn"  # no inherited threads or locks; needs importable targets
POLL_INTERVAL_S = 0.05  # how often the parent refreshes the bar and looks at its workers
STOP_TIMEOUT_S = 30.0  # how long stopped workers get to cancel their rows and flush logs
_STOP_CHECK_S = 0.1
# The exit code of a worker that found itself re-running batch_run while importing the
# parent's script (spawn and forkserver re-import __main__ before running the target).
# Only the exit code reaches the parent: the worker's pipe is unpickled after that import.
UNGUARDED_MAIN_EXIT = 87


@dataclass(frozen=True)
class Shard:
    """What one worker runs: rows `start`..`stop - 1` of the DataFrame, and how."""

    index: int
    start: int
    stop: int
    df: pd.DataFrame
    llm: Any
    llm_factory: Callable[[], Any] | None
    spec: RowSpec
    max_concurrency: int
    return_exceptions: bool
    return_results: bool


def shard_bounds(rows: int, processes: int) -> list[tuple[int, int]]:
    """Contiguous, nearly equal (start, stop) ranges; never an empty one."""
    n = min(processes, rows)
    return [(rows * k // n, rows * (k + 1) // n) for k in range(n)]


# ---------------------------------------------------------------------------- in the worker
def exit_if_importing_main() -> None:
    """In a worker still importing the parent's `__main__` (a script without the
    `if __name__ == "__main__":` guard), exit with `UNGUARDED_MAIN_EXIT` instead of starting
    a batch of its own; multiprocessing's own RuntimeError would only say "crashed"."""
    # multiprocessing sets `_inheriting` while a spawn/forkserver child imports __main__ and
    # unpickles its target; it is never set once the target runs, nor in the parent.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # os._exit, not sys.exit: a forkserver child turns any SystemExit into exit code 1.
        # Nothing of this worker needs its exit handlers: it has not started its rows.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(UNGUARDED_MAIN_EXIT)


def shard_main(shard: Shard, conn: Connection, counters: Any, stop: Any) -> None:
    """A worker process's target: run the shard, close its loggers, send one message."""
    try:
        message: tuple[str, Any] = ("done", asyncio.run(_run_shard(shard, counters, stop)))
    except asyncio.CancelledError:
        message = ("stopped", None)
    except BaseException as exc:  # reported to the parent, which decides what to raise
        message = ("raised", exc)
    finally:
        _close_loggers(shard)
    _send(conn, message)
    conn.close()


async def _run_shard(shard: Shard, counters: Any, stop: Any) -> list[Any] | None:
    llm = shard.llm_factory() if shard.llm_factory is not None else shard.llm
    results: list[Any] | None = [None] * len(shard.df) if shard.return_results else None
    progress = SharedCounters(counters, shard.index)
    rows = asyncio.create_task(
        run_all(
            shard.df,
            llm,
            shard.spec,
            shard.max_concurrency,
            shard.return_exceptions,
            results,
            progress,
            first_index=shard.start,
        )
    )
    watcher = asyncio.create_task(_cancel_on_stop(stop, rows))
    try:
        await rows
    finally:
        watcher.cancel()
    return results


async def _cancel_on_stop(stop: Any, task: asyncio.Task[None]) -> None:
    # The parent sets `stop` when another worker's failure (or its own cancellation) ends the job.
    while not stop.value:
        await asyncio.sleep(_STOP_CHECK_S)
    task.cancel()


class SharedCounters:
    """The worker's side of the progress bar: its two slots of the shared counters."""

    def __init__(self, counters: Any, index: int) -> None:
        self._counters = counters
        self._done = 2 * index
        self.failed = 0

    def advance(self, failed: bool) -> None:
        if failed:
            self.failed += 1
            self._counters[self._done + 1] = self.failed
        self._counters[self._done] += 1


def _close_loggers(shard: Shard) -> None:
    """Flush and detach the worker's loggers: multiprocessing children skip atexit."""
    for logger in _shard_loggers(shard):
        try:
            logger.close()
        except Exception:  # the rows' results still go back to the parent
            log.exception("batch worker %d: could not flush %r", shard.index, logger)


def _shard_loggers(shard: Shard) -> list[Any]:
    """The ParquetLoggers this worker unpickled: the batch's callbacks and the rows' own."""
    found = {id(h): h for h in parquet_loggers(list(shard.spec.callbacks))}
    if shard.spec.config_col is not None:
        for config in shard.df[shard.spec.config_col]:
            if isinstance(config, dict):
                found.update((id(h), h) for h in parquet_loggers(config.get("callbacks")))
    return list(found.values())


def _send(conn: Connection, message: tuple[str, Any]) -> None:
    """Send the message; results that do not pickle are replaced one by one."""
    try:
        conn.send(message)
        return
    except Exception:  # pickling failed before anything was written
        pass
    kind, payload = message
    if isinstance(payload, list):
        payload = [_picklable(item) for item in payload]
    else:
        payload = _picklable(payload)
    conn.send((kind, payload))


def _picklable(item: Any) -> Any:
    try:
        pickle.dumps(item)
        return item
    except Exception as exc:
        return RuntimeError(f"a {type(item).__name__} could not be sent back: {exc}; {item!r}")


# ---------------------------------------------------------------------------- in the parent
class Worker:
    """The parent's handle on one worker: its process, its pipe, and its outcome."""

    def __init__(self, ctx: BaseContext, shard: Shard, counters: Any, stop: Any) -> None:
        self.shard = shard
        receive, send = ctx.Pipe(duplex=False)
        self.conn = receive
        self.process = ctx.Process(  # type: ignore[attr-defined]
            target=shard_main,
            args=(shard, send, counters, stop),
            name=f"batch-worker-{shard.index}",
            daemon=True,
        )
        try:
            self.process.start()
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            receive.close()
            raise TypeError(
                f"processes: the rows of worker {shard.index} could not be sent to it ({exc}); "
                f"every config, tool and callback must pickle"
            ) from exc
        finally:
            send.close()  # the child holds the only send end: its death closes the pipe
        self.outcome: tuple[str, Any] | None = None

    def poll(self) -> bool:
        """Collect the outcome if the worker reported or died; True once it has one."""
        if self.outcome is None and (self.conn.poll() or not self.process.is_alive()):
            try:
                self.outcome = self.conn.recv() if self.conn.poll() else self._crashed()
            except (EOFError, OSError):
                self.outcome = self._crashed()
        return self.outcome is not None

    def _crashed(self) -> tuple[str, Any]:
        self.process.join(1.0)
        s = self.shard
        if self.process.exitcode == UNGUARDED_MAIN_EXIT:
            return ("unguarded", _unguarded_main_error())
        return (
            "crashed",
            WorkerCrashedError(
                f"batch worker {s.index} (pid {self.process.pid}) exited with code "
                f"{self.process.exitcode} before reporting; its rows {s.start}-{s.stop - 1} "
                f"did not complete (their events may be partly logged)"
            ),
        )

    def waitables(self) -> list[Any]:
        return [self.conn, self.process.sentinel]


async def run_in_processes(
    df: pd.DataFrame,
    llm: Any,
    llm_factory: Callable[[], Any] | None,
    spec: RowSpec,
    options: BatchOptions,
    *,
    results: list[Any] | None,
    progress: Progress,
) -> None:
    """Run `df` in `options.processes` workers, filling `results` (if given) in row order.

    Raises:
        TypeError: `llm` (or a row's config) cannot be pickled.
        Exception: the first failed row's exception (or a `WorkerCrashedError`), when
            `return_exceptions=False`.
        UnguardedMainError: the workers re-ran a script without the `__main__` guard.
    """
    exit_if_importing_main()
    if llm_factory is None:
        _check_picklable(llm)
    ctx = _context(options.mp_context)
    bounds = shard_bounds(len(df), options.processes)
    counters = ctx.RawArray("q", 2 * len(bounds))
    stop = ctx.RawValue("b", 0)
    workers: list[Worker] = []
    try:
        for index, (start, end) in enumerate(bounds):
            shard = Shard(
                index=index,
                start=start,
                stop=end,
                df=df.iloc[start:end],
                llm=None if llm_factory is not None else llm,
                llm_factory=llm_factory,
                spec=spec,
                max_concurrency=options.max_concurrency,
                return_exceptions=options.return_exceptions,
                return_results=results is not None,
            )
            workers.append(Worker(ctx, shard, counters, stop))
        await _supervise(workers, counters, options.return_exceptions, results, progress)
    finally:
        stop.value = 1
        await asyncio.to_thread(_reap, workers, STOP_TIMEOUT_S)


async def _supervise(
    workers: list[Worker],
    counters: Any,
    return_exceptions: bool,
    results: list[Any] | None,
    progress: Progress,
) -> None:
    """Until every worker has reported or died: refresh the bar, place each shard's results."""
    pending = list(workers)
    while pending:
        for worker in [w for w in pending if w.poll()]:
            pending.remove(worker)
            _place(worker, counters, return_exceptions, results)
        progress.advance_to(sum(counters[0::2]), sum(counters[1::2]))
        if pending:
            await asyncio.sleep(POLL_INTERVAL_S)


def _place(
    worker: Worker,
    counters: Any,
    return_exceptions: bool,
    results: list[Any] | None,
) -> None:
    """Put one finished worker's outcome into the results, or raise it."""
    assert worker.outcome is not None
    kind, payload = worker.outcome
    s = worker.shard
    if kind == "crashed":
        log.warning("batch_run: %s", payload)
        # The shard's finished rows were lost with the worker: count them all as failed.
        counters[2 * s.index] = s.stop - s.start
        counters[2 * s.index + 1] = s.stop - s.start
        if not return_exceptions:
            raise payload
        if results is not None:
            results[s.start : s.stop] = [payload] * (s.stop - s.start)
        return
    if kind in ("raised", "unguarded"):
        raise payload
    if results is not None and payload is not None:
        results[s.start : s.stop] = payload


def _reap(workers: list[Worker], timeout_s: float) -> None:
    """Wait (bounded) for the workers to exit, draining their pipes so none blocks on a send;
    terminate, then kill, whatever is left."""
    deadline = time.monotonic() + timeout_s
    for worker in workers:
        while not worker.poll() and time.monotonic() < deadline:
            wait(worker.waitables(), timeout=max(0.0, deadline - time.monotonic()))
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(5.0)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()


def _unguarded_main_error() -> UnguardedMainError:
    script = getattr(sys.modules.get("__main__"), "__file__", None) or "your script"
    return UnguardedMainError(
        f"batch_run(processes=N): each worker process re-imports {script} before it runs its "
        "rows (the spawn and forkserver start methods do), and that import ran batch_run "
        'again. Put the script\'s work under `if __name__ == "__main__":` (e.g. '
        '`if __name__ == "__main__": asyncio.run(main())`), or pass mp_context="fork"'
    )


def _context(mp_context: str | BaseContext | None) -> BaseContext:
    if isinstance(mp_context, BaseContext):
        return mp_context
    try:
        return multiprocessing.get_context(mp_context or DEFAULT_START_METHOD)
    except ValueError as exc:
        raise ValueError(f"mp_context: {exc}") from None


def _check_picklable(llm: Any) -> None:
    try:
        pickle.dumps(llm)
    except Exception as exc:
        raise TypeError(
            f"llm: a {type(llm).__name__} cannot be pickled for the worker processes ({exc}); "
            f"pass batch_run(llm_factory=...) or batch_process(llm_class=..., llm_kwargs=...) "
            f"so that each worker builds its own model"
        ) from exc
