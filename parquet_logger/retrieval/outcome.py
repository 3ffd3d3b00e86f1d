"""How one response ended in a run (`Outcome`), decided from what the last fetch returned or
how it failed, and the results table's row for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from parquet_logger.retrieval.client import RetrievalFailed
from parquet_logger.retrieval.refs import ResponseRef
from parquet_logger.retry_policy import Verdict

__all__ = [
    "RESULT_COLUMNS",
    "TERMINAL",
    "WAITING",
    "Outcome",
    "as_dict",
    "failure_outcome",
    "result_columns",
    "status_outcome",
]

TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
WAITING = frozenset({"queued", "in_progress"})
RESULT_COLUMNS = (
    "response_id",
    "custom_id",
    "status",
    "output_text",
    "openai_response",
    "error",
    "attempts",
)
PARSED_COLUMN = "parsed_output"  # with a response_parser: what it returned


def result_columns(parser: object) -> list[str]:
    """The results table's columns: RESULT_COLUMNS, and `parsed_output` with a parser."""
    return [*RESULT_COLUMNS, PARSED_COLUMN] if parser is not None else list(RESULT_COLUMNS)


@dataclass
class Outcome:
    """How one response ended in this run."""

    status: str
    attempts: int
    response: dict[str, Any] | None = None
    output_text: str | None = None
    error: str = ""
    error_type: str = ""
    retryable: bool = False
    parsed: Any = None  # what the response_parser returned for a completed response

    @property
    def final(self) -> bool:
        """No later run should fetch it again (it ended, or failed for good)."""
        return not self.retryable

    def row(self, ref: ResponseRef, *, parsed: bool = False) -> dict[str, Any]:
        """Its row of the results table (`result_columns`; `parsed_output` if `parsed`)."""
        body = orjson.dumps(self.response).decode() if self.response is not None else None
        row = {
            "response_id": ref.response_id,
            "custom_id": ref.custom_id,
            "status": self.status,
            "output_text": self.output_text,
            "openai_response": body,
            "error": self.error or None,
            "attempts": self.attempts,
        }
        if parsed:
            row[PARSED_COLUMN] = self.parsed
        return row


def status_outcome(status: str, body: dict[str, Any], response: Any, attempts: int) -> Outcome:
    """The outcome of a response no longer `queued`/`in_progress`."""
    text = getattr(response, "output_text", None) if not isinstance(response, dict) else None
    if status == "completed":
        return Outcome(status, attempts, body, text if isinstance(text, str) else None)
    if status in TERMINAL:
        detail = body.get("error") or body.get("incomplete_details") or {}
        message = (
            detail.get("message") or detail.get("reason") if isinstance(detail, dict) else None
        )
        return Outcome(
            status,
            attempts,
            body,
            text if isinstance(text, str) and text else None,
            error=f"response {status}" + (f": {message}" if message else ""),
            error_type=status,
        )
    return Outcome(
        "error",
        attempts,
        body,
        error=f"unknown response status {status!r}",
        error_type="unknown_status",
        retryable=True,
    )


def failure_outcome(failure: RetrievalFailed, attempts: int) -> Outcome:
    """The outcome of a fetch that failed (after our retries): status `failed`, as in the
    package users come from, and `retryable` (a later run fetches it again) unless its
    verdict is FINAL (an HTTP 4xx such as 404: the response will not come back)."""
    cause = failure.cause
    code = getattr(cause, "code", None)
    kind = code if isinstance(code, str) and code else type(cause).__name__
    retryable = failure.verdict is not Verdict.FINAL
    return Outcome("failed", attempts, error=str(failure), error_type=kind, retryable=retryable)


def as_dict(response: Any) -> dict[str, Any]:
    """A fetched response as a JSON-ready dict (an SDK model is dumped)."""
    if isinstance(response, dict):
        return response
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        body = dump(mode="json")
        if isinstance(body, dict):
            return body
    return {"status": getattr(response, "status", None), "repr": repr(response)}
