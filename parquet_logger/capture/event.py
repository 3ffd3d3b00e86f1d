"""One LangChain callback as the handler received it, and what its row says about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from parquet_logger.capture.events import EventType
from parquet_logger.capture.llm_facts import EndFacts, Usage
from parquet_logger.capture.runs import RunStart


@dataclass(slots=True)
class CallbackEvent:
    """The arguments of one callback, as LangChain passed them."""

    event_type: EventType | str
    run_id: UUID | None
    parent_run_id: UUID | None
    tags: list[str] | None
    # The callback's own arguments under LangChain's parameter names ({"messages": ...},
    # {"response": ...}); each family in `content` knows the names of its own.
    inputs: dict[str, Any]
    kwargs: dict[str, Any]
    serialized: dict[str, Any] | None = None  # start events only
    metadata: dict[str, Any] | None = None  # start and custom events only


@dataclass(slots=True)
class Content:
    """What a row says about its callback: the payload's `data` and `raw`, and the facts that
    fill typed columns (`run` is the run's start: name, model, metadata, latency)."""

    data: dict[str, Any]
    raw: dict[str, Any]
    run: RunStart | None
    ending: bool = False
    usage: Usage | None = None
    model: str | None = None
    error_type: str | None = None
    response: EndFacts | None = None  # an LLM end's facts (finish reasons, response id)
    # The event's time when it was read already: a start's is its run's start (the end row's
    # `start_time`), a run's first token's is what `time_to_first_token_ms` measures. 0: read
    # the clock.
    at_ns: int = 0
