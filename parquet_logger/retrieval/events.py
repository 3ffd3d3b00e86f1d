"""The `background_retrieval_*` events: their names, and which of them ends a response for
good. Written by the poller, read back by discovery and by a resumed run."""

from __future__ import annotations

from typing import Any

__all__ = ["RETRIEVAL_EVENTS", "is_final"]

QUEUED = "background_retrieval_queued"  # logged by whoever created the response
ATTEMPT = "background_retrieval_attempt"
PENDING = "background_retrieval_pending"
COMPLETE = "background_retrieval_complete"
ERROR = "background_retrieval_error"
RESUME = "background_retrieval_resume"  # a resumed run's barrier; names no single response
RETRIEVAL_EVENTS = (QUEUED, ATTEMPT, PENDING, COMPLETE, ERROR)
FINAL_EVENTS = (COMPLETE, ERROR)


def is_final(event_type: str, data: dict[str, Any]) -> bool:
    """True for a complete event, or an error event not marked `"retryable": true`."""
    return event_type == COMPLETE or (event_type == ERROR and data.get("retryable") is not True)
