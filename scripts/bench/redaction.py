"""What redaction costs on the hot path: the benchmark's events turned into ring bodies by
our own content and record builders, once with the logger's redaction and once with a
pass-through in its place; the difference is redaction's share (the secret-key walk and the
credential-shape scan), printed next to the hot path's figures."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from parquet_logger.capture.content import ContentBuilder
from parquet_logger.capture.event import CallbackEvent
from parquet_logger.capture.events import EventType
from parquet_logger.capture.record import RecordBuilder
from parquet_logger.capture.settings import LoggerSettings
from parquet_logger.encode.redaction import Redactor
from scripts.bench.events import OPTIONS, Run


class PassThrough(Redactor):
    """A redactor that changes nothing: the baseline without redaction."""

    def scrub(self, obj: Any) -> Any:
        return obj

    def scrub_inside(self, obj: dict[Any, Any]) -> dict[Any, Any]:
        return obj

    def mask_json(self, data: bytes, *, hook: bool = True) -> bytes:
        return data

    def text(self, value: str, *, remember: bool = True) -> str:
        return value


def callback_events(serialized: dict[str, Any], runs: Sequence[Run]) -> list[CallbackEvent]:
    """The two callbacks of each run, with LangChain's arguments (as `Player.play`)."""
    events = []
    for run in runs:
        t = run.template
        kwargs: dict[str, Any] = {"invocation_params": t.invocation_params, "options": OPTIONS}
        kwargs |= {"name": None, "batch_size": 1}
        events.append(
            CallbackEvent(
                EventType.CHAT_MODEL_START,
                run.run_id,
                None,
                run.tags,
                {"messages": t.messages},
                kwargs,
                serialized,
                t.metadata,
            )
        )
        events.append(
            CallbackEvent(
                EventType.LLM_END, run.run_id, None, run.tags, {"response": t.response}, {}
            )
        )
    return events


def _build_all_s(settings: LoggerSettings, events: Sequence[CallbackEvent]) -> float:
    """CPU seconds to turn every event into its ring body (best of three rounds)."""
    best = float("inf")
    for _ in range(3):
        content, records = ContentBuilder(settings), RecordBuilder(settings)
        c0 = time.process_time()
        for event in events:
            built = content.of(event)
            assert built is not None
            records.build(event, built)
        best = min(best, time.process_time() - c0)
    return best


def redaction_cost(serialized: dict[str, Any], runs: Sequence[Run]) -> dict[str, float]:
    """Per event: building the ring body with and without redaction, and the difference."""
    events = callback_events(serialized, runs)
    settings = LoggerSettings(log_dir="unused")  # builders only: nothing is written
    bare = LoggerSettings(log_dir="unused")
    object.__setattr__(bare, "redactor", PassThrough())
    with_s, without_s = _build_all_s(settings, events), _build_all_s(bare, events)
    n = len(events)
    return {
        "build_us": with_s / n * 1e6,
        "build_unredacted_us": without_s / n * 1e6,
        "redaction_us": max(0.0, with_s - without_s) / n * 1e6,
    }
