"""Following one background response until it ends: poll it, log its events, and record its
final outcome so that a crash at any instruction neither loses nor doubles the final event.

Per response: `background_retrieval_attempt`, one `background_retrieval_pending` per poll that
found it `queued`/`in_progress`, then `background_retrieval_complete` or
`background_retrieval_error` (with `"retryable": true` when a later run should try again).
With a checkpoint, the final event sits between two journal lines (`logging`, then its
outcome); a run that finds only the first looks in the log to tell whether the event is there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.retrieval.checkpoint import CheckpointEntry, CheckpointWriter
from parquet_logger.retrieval.client import BackgroundClient, RetrievalFailed
from parquet_logger.retrieval.events import ATTEMPT, COMPLETE, ERROR, PENDING
from parquet_logger.retrieval.options import RetrievalOptions
from parquet_logger.retrieval.outcome import (
    WAITING,
    Outcome,
    as_dict,
    failure_outcome,
    status_outcome,
)
from parquet_logger.retrieval.refs import ResponseRef
from parquet_logger.retry_policy import Verdict

log = logging.getLogger("parquet_logger.retrieval")

__all__ = ["ResponsePoller", "StopJob"]

ResponseParser = Callable[[dict[str, Any]], Any]


class StopJob(Exception):
    """A failure no response gets past (see `Verdict.FATAL`): every poller stops."""

    def __init__(self, failure: RetrievalFailed) -> None:
        super().__init__(str(failure))
        self.failure = failure


class ResponsePoller:
    """Follows responses one at a time per `follow` call; many calls run concurrently."""

    def __init__(
        self,
        client: BackgroundClient,
        opts: RetrievalOptions,
        logger: ParquetLogger | None,
        journal: CheckpointWriter | None,
        parser: ResponseParser | None,
    ) -> None:
        self.client = client
        self.opts = opts
        self.logger = logger
        self.journal = journal
        self.parser = parser

    async def follow(self, ref: ResponseRef) -> Outcome:
        """Poll one response until it ends, its deadline passes, or fetching fails.

        Raises:
            StopJob: a `FATAL` failure (its outcome is recorded first).
        """
        opts, start = self.opts, time.monotonic()
        deadline = start + opts.max_wait_s
        self.log(ATTEMPT, ref, {"response_id": ref.response_id})
        attempts = polls = 0
        while True:
            try:
                response, requests = await self.client.retrieve(ref.response_id, deadline)
            except RetrievalFailed as failure:
                outcome = failure_outcome(failure, attempts + failure.requests)
                if failure.verdict is Verdict.FATAL:
                    await self._record(ref, outcome, time.monotonic() - start)
                    raise StopJob(failure) from None
                break
            attempts, polls = attempts + requests, polls + 1
            body = as_dict(response)
            # A body without a status (an SDK or proxy that omits it) has nothing left to
            # wait for: completed, as the package users come from counted it.
            status = str(body.get("status") or "completed")
            if status not in WAITING:
                outcome = status_outcome(status, body, response, attempts)
                break
            if time.monotonic() + opts.poll_interval_s >= deadline:
                outcome = Outcome(
                    "timeout",
                    attempts,
                    body,
                    error=f"still {status} after {opts.max_wait_s} s",
                    error_type="timeout",
                    retryable=True,
                )
                break
            self.log(
                PENDING,
                ref,
                {
                    "response_id": ref.response_id,
                    "openai_status": status,
                    "poll": polls,
                    "next_check_in_s": opts.poll_interval_s,
                },
            )
            await asyncio.sleep(opts.poll_interval_s)
        await self._record(ref, outcome, time.monotonic() - start)
        return outcome

    async def _record(self, ref: ResponseRef, outcome: Outcome, elapsed_s: float) -> None:
        """Log the final event between the checkpoint's `logging` and outcome lines."""
        journal = self.journal if self.logger is not None else None
        if journal is not None and outcome.final:
            await journal.write(ref.response_id, CheckpointEntry("logging"))
        self._log_final(ref, outcome, elapsed_s)
        if self.journal is not None:
            state = "completed" if outcome.status == "completed" else "failed"
            entry = CheckpointEntry(
                state if outcome.final else "transient", outcome.status, outcome.error
            )
            await self.journal.write(ref.response_id, entry)

    def _log_final(self, ref: ResponseRef, outcome: Outcome, elapsed_s: float) -> None:
        data: dict[str, Any] = {
            "response_id": ref.response_id,
            "status": outcome.status,
            "attempts": outcome.attempts,
            "elapsed_s": round(elapsed_s, 3),
        }
        if outcome.status == "completed":
            data["output_text"] = outcome.output_text
            data["openai_response"] = outcome.response
            if self.parser is not None and outcome.response is not None:
                outcome.parsed = _parse(self.parser, outcome.response)
                data["parsed_output"] = outcome.parsed
            self.log(COMPLETE, ref, data)
            return
        data |= {
            "error": outcome.error,
            "error_type": outcome.error_type,
            "retryable": outcome.retryable,
            "openai_response": outcome.response,
        }
        self.log(ERROR, ref, data)

    def log(self, event_type: str, ref: ResponseRef, data: dict[str, Any]) -> None:
        """Log one event about `ref`, joined to the call that created it (if logging)."""
        if self.logger is not None:
            self.logger.log_event(
                event_type,
                data,
                custom_id=ref.custom_id or None,
                run_id=ref.run_id,
                parent_run_id=ref.parent_run_id,
            )


def _parse(parser: ResponseParser, body: dict[str, Any]) -> Any:
    try:
        return parser(body)
    except Exception as exc:  # a user's parser must not lose the response
        log.warning("response_parser raised %s: %s", type(exc).__name__, exc)
        return None
