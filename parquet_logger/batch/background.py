"""The background responses a `Batch.run` leaves queued: which results name one, the LangChain
run that created it, its `background_retrieval_queued` event, and (once retrieved) its
structured output parsed.

A response is found two ways: the extractor over each row's result (the caller's, or the one
for OpenAI models, which reads `response_metadata`), and `RunCapture`, a handler that sees
every model's end and so also catches the ids of rows whose result is an exception (a
structured-output parser fails on a queued, empty answer after the model ended).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import pandas as pd
from langchain_core.callbacks import BaseCallbackHandler

from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.capture.tagging import CUSTOM_ID_PREFIX, custom_id_from_tags
from parquet_logger.retrieval.events import QUEUED

__all__ = [
    "OPENAI_BACKGROUND_CLASSES",
    "Extractor",
    "RunCapture",
    "StructuredOutputParser",
    "log_queued",
    "openai_response_id",
    "pending_responses",
]

# Model classes whose answers may be OpenAI background responses (matched by class name, as
# the package users come from did, so that subclasses and test doubles count too).
OPENAI_BACKGROUND_CLASSES = frozenset({"ChatOpenAI", "AzureChatOpenAI"})
_PENDING = frozenset({"queued", "in_progress", "processing"})

Extractor = Callable[[Any, dict[str, Any]], str | None]


def openai_response_id(result: Any, row: dict[str, Any]) -> str | None:
    """The id of a LangChain OpenAI answer still being worked on in the background (its
    `response_metadata` status is queued/in_progress); None for a finished answer."""
    return _pending_id(getattr(result, "response_metadata", None))


def _pending_id(metadata: object) -> str | None:
    if not isinstance(metadata, Mapping) or metadata.get("status") not in _PENDING:
        return None
    response_id = metadata.get("id")
    return response_id if isinstance(response_id, str) and response_id else None


class RunCapture(BaseCallbackHandler):
    """Remembers, per background response id seen at a model's end, the run that created
    it: `{response_id: {"run_id", "parent_run_id", "tags"}}`."""

    run_inline = True  # a dict update: no thread hop needed

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, dict[str, Any]] = {}

    def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        for generations in getattr(response, "generations", None) or []:
            for generation in generations:
                message = getattr(generation, "message", generation)
                response_id = _pending_id(getattr(message, "response_metadata", None))
                if response_id is not None:
                    self.runs[response_id] = {
                        "run_id": str(run_id),
                        "parent_run_id": str(parent_run_id or ""),
                        "tags": list(tags or []),
                    }


def pending_responses(
    df: pd.DataFrame,
    results: Sequence[Any],
    extractor: Extractor,
    capture: RunCapture,
    custom_id_col: str,
    config_col: str | None,
) -> dict[str, dict[str, Any]]:
    """`{response_id: {"custom_id", "run_id", "parent_run_id", "tags"}}` of a run's
    background responses, in row order, then those only `capture` saw.

    An extractor that raises for a row is reported with a UserWarning and that row skipped.
    """
    found: dict[str, dict[str, Any]] = {}
    for row, result in zip(df.to_dict("records"), results, strict=True):
        if result is None or isinstance(result, BaseException):
            continue
        try:
            response_id = extractor(result, row)
        except Exception as exc:  # the caller's code: a warning, not a failed batch
            warnings.warn(
                f"response_id_extractor raised {type(exc).__name__} for a row, which was "
                f"skipped: {exc}",
                UserWarning,
                stacklevel=4,
            )
            continue
        if not response_id:
            continue
        config = row.get(config_col) if config_col is not None else None
        tags = list(config.get("tags") or []) if isinstance(config, Mapping) else []
        run = capture.runs.get(str(response_id), {})
        found[str(response_id)] = {
            "custom_id": _text(row.get(custom_id_col)) or custom_id_from_tags(tags),
            "run_id": run.get("run_id", ""),
            "parent_run_id": run.get("parent_run_id", ""),
            "tags": tags or run.get("tags", []),
        }
    for response_id, run in capture.runs.items():
        if response_id not in found:
            found[response_id] = {"custom_id": custom_id_from_tags(run["tags"]), **run}
    return found


def log_queued(logger: ParquetLogger, response_id: str, entry: Mapping[str, Any]) -> None:
    """One `background_retrieval_queued` event: discovery finds the response pending even
    if no retrieval ever runs. Joined to the run that created it when that is known."""
    custom_id = str(entry.get("custom_id") or "")
    logger.log_event(
        QUEUED,
        {"response_id": response_id, "custom_id": custom_id},
        custom_id=custom_id or None,
        run_id=_uuid(entry.get("run_id")),
        parent_run_id=_uuid(entry.get("parent_run_id")),
        tags=[t for t in entry.get("tags") or [] if not str(t).startswith(CUSTOM_ID_PREFIX)],
    )


class StructuredOutputParser:
    """A `response_parser` for retrieval: the response's output text validated against a
    Pydantic schema, as a JSON-ready dict (None when there is no text or it does not fit)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema

    def __call__(self, body: dict[str, Any]) -> dict[str, Any] | None:
        text = _output_text(body)
        if text is None:
            return None
        try:
            parsed = self.schema.model_validate_json(text)
        except ValueError:  # pydantic's ValidationError, or text that is not JSON
            return None
        dumped = parsed.model_dump(mode="json")
        return dumped if isinstance(dumped, dict) else None

    def to_model(self, value: Any) -> Any:
        """A parsed dict back as an instance of the schema (for the caller's results)."""
        return self.schema.model_validate(value) if isinstance(value, dict) else None


def _output_text(body: Mapping[str, Any]) -> str | None:
    """`output_text`, else the first `output_text` part of the response's `output` items
    (reasoning items have `content: null`)."""
    text = body.get("output_text")
    if isinstance(text, str) and text:
        return text
    for item in body.get("output") or []:
        for part in (item.get("content") if isinstance(item, Mapping) else None) or []:
            if isinstance(part, Mapping) and part.get("type") == "output_text":
                found = part.get("text")
                if isinstance(found, str) and found:
                    return found
    return None


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None
