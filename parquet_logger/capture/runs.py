"""What a start event leaves for its end event: start time, metadata, name, model (bounded)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(slots=True)
class RunStart:
    """The facts of a run's start event that its end or error event reports again."""

    start_ns: int
    metadata: Any
    run_type: str | None
    name: str | None
    model: str | None
    provider: str | None


class RunTable:
    """run_id -> RunStart, oldest evicted beyond `max_runs` (runs that never end must not leak).

    Callbacks arrive from many threads at once; single dict operations are atomic under the
    GIL, and the eviction tolerates a concurrent change instead of taking a lock. LangChain
    always passes a run id; an event the user logs may have none, which no run has.
    """

    def __init__(self, max_runs: int) -> None:
        self._max_runs = max_runs
        self._runs: dict[UUID | None, RunStart] = {}

    def remember(self, run_id: UUID | None, start: RunStart) -> None:
        runs = self._runs
        runs[run_id] = start
        if len(runs) > self._max_runs:
            # Another thread may evict or change the table meanwhile: that is fine too.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del runs[next(iter(runs))]

    def pop(self, run_id: UUID | None) -> RunStart | None:
        return self._runs.pop(run_id, None)

    def get(self, run_id: UUID | None) -> RunStart | None:
        return self._runs.get(run_id)
