"""Worker processes of one start method for the scenarios, reaped together with the forkserver
and resource tracker that multiprocessing starts for them."""

from __future__ import annotations

import gc
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing import forkserver, resource_tracker
from multiprocessing.process import BaseProcess
from typing import Any

START_METHODS = ("fork", "spawn", "forkserver")


class Workers:
    """Processes of one start method, started by a test and reaped by the fixture."""

    def __init__(self, method: str) -> None:
        self.method = method
        # Any: typeshed's BaseContext lacks the Process class that every concrete context has.
        self.ctx: Any = multiprocessing.get_context(method)
        self.started: list[BaseProcess] = []

    def start(self, target: Callable[..., None], *args: Any) -> BaseProcess:
        """Start `target(*args)` in a new process of this start method."""
        process = self.ctx.Process(target=target, args=args, daemon=True)
        self.started.append(process)
        process.start()
        return process

    def join(self, processes: list[BaseProcess], timeout: float) -> dict[int, int | None]:
        """Join `processes` within `timeout` seconds in all; returns pid -> exit code (None:
        still running when the time was up)."""
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        return {p.pid: p.exitcode for p in processes if p.pid is not None}

    def reap(self) -> None:
        """SIGKILL whatever still runs, join everything, then stop multiprocessing's helpers."""
        for process in self.started:
            if process.is_alive():
                process.kill()
            process.join(10)
            process.close()
        self.started.clear()
        # The forkserver and the resource tracker are processes too; they would otherwise live
        # on until pytest exits. Semaphores must be finalized first, or their finalizers
        # would start a fresh tracker after we stopped this one.
        gc.collect()
        if self.method == "forkserver":
            forkserver._forkserver._stop()  # type: ignore[attr-defined]
        if self.method != "fork":
            resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]
