"""What a start event leaves for its end event: start time, metadata, name, model, the run's
trace and its request parameters (bounded)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from parquet_logger.capture.genai_names import operation_of, provider_name
from parquet_logger.capture.llm_facts import request_params


@dataclass(slots=True)
class RunStart:
    """The facts of a run's start event that its other events report again."""

    start_ns: int
    metadata: Any
    run_type: str | None
    name: str | None
    model: str | None
    provider: str | None  # a gen_ai.provider.name value
    root_run_id: UUID | None = None
    trace_id: str | None = None  # the root run's id as 32 lowercase hex (OTel's trace id)
    operation: str | None = None  # a gen_ai.operation.name value
    temperature: float | None = None
    max_tokens: int | None = None
    first_token_ns: int = 0  # time.time_ns() of a streamed run's first token; 0: none yet
    columns: dict[str, Any] | None = None  # the typed columns its rows repeat (`record`)


class RunTable:
    """run_id -> RunStart, oldest evicted beyond `max_runs` (runs that never end must not leak).

    Callbacks arrive from many threads at once; single dict operations are atomic under the
    GIL, and the eviction tolerates a concurrent change instead of taking a lock. LangChain
    always passes a run id; an event the user logs may have none, which no run has.
    """

    def __init__(self, max_runs: int) -> None:
        self._max_runs = max_runs
        self._runs: dict[UUID | None, RunStart] = {}

    def start(
        self,
        run_id: UUID | None,
        parent_run_id: UUID | None,
        metadata: Any,
        run_type: str,
        name: str | None,
        model: str | None = None,
        provider: str | None = None,
        params: Mapping[str, Any] | None = None,
        run_metadata: Mapping[str, Any] | None = None,
    ) -> RunStart:
        """Remember a run that starts now, with its place in its trace.

        The root is known at the start: a run without a parent is its own root, a child
        inherits its parent's. A parent this logger never saw (its event type is not
        recorded, or it ran in another process) roots the trace, as `read.runs` has it.

        Args:
            metadata: what end events repeat as the payload's metadata (encoded once).
            provider: LangChain's provider name (normalised here to gen_ai.provider.name).
            params, run_metadata: a model's invocation params and start metadata, for its
                request parameters.
        """
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        if parent is not None:
            root, trace_id = parent.root_run_id, parent.trace_id
        else:
            root = run_id if parent_run_id is None else parent_run_id
            trace_id = root.hex if isinstance(root, UUID) else None
        start = RunStart(
            time.time_ns(),
            metadata,
            run_type,
            name,
            model,
            provider_name(provider),
            root,
            trace_id,
            operation_of(run_type, name, parent_run_id is None),
        )
        if type(params) is dict or isinstance(params, Mapping):  # dict: no ABC check
            start.temperature, start.max_tokens = request_params(params, run_metadata)
        self.remember(run_id, start)
        return start

    def remember(self, run_id: UUID | None, start: RunStart) -> None:
        runs = self._runs
        runs[run_id] = start
        if len(runs) > self._max_runs:
            # Another thread may evict or change the table meanwhile: that is fine too.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del runs[next(iter(runs))]

    def token(self, run_id: UUID | None) -> tuple[RunStart | None, int]:
        """A streamed run's token arrived: the run, and the time stamped if this is its first
        token (0 for the others: one clock read per run, not per token)."""
        run = self._runs.get(run_id)
        if run is None or run.first_token_ns:
            return run, 0
        run.first_token_ns = now_ns = time.time_ns()
        return run, now_ns

    def pop(self, run_id: UUID | None) -> RunStart | None:
        return self._runs.pop(run_id, None)

    def get(self, run_id: UUID | None) -> RunStart | None:
        return self._runs.get(run_id)
