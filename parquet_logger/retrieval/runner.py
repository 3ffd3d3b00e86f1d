"""`retrieve_background_responses`: fetch OpenAI background responses until they finish, log
each outcome once, and checkpoint it so a rerun (after any crash) picks up where this stopped.

Per response: `background_retrieval_attempt`, one `background_retrieval_pending` per poll that
found it `queued`/`in_progress`, then `background_retrieval_complete` or
`background_retrieval_error` (with `"retryable": true` when a later run should try again).
With a checkpoint, the final event sits between two journal lines (`logging`, then its
outcome); a run that finds only the first looks in the log to tell whether the event is there,
so a crash at any instruction neither loses nor doubles a final event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd

from parquet_logger.batch.runner import Progress
from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.errors import RetrievalAbortedError
from parquet_logger.retrieval.checkpoint import Checkpoint, CheckpointEntry, CheckpointWriter
from parquet_logger.retrieval.client import BackgroundClient, RetrievalFailed, Verdict
from parquet_logger.retrieval.inputs import (
    ResponseRef,
    RetrievalOptions,
    options_from_configs,
    response_refs,
)
from parquet_logger.retrieval.pending import (
    ATTEMPT,
    COMPLETE,
    ERROR,
    PENDING,
    RESUME,
    find_finished_ids,
    find_pending_responses,
)
from parquet_logger.retry_policy import RetryPolicy

log = logging.getLogger("parquet_logger.retrieval")

__all__ = ["RESULT_COLUMNS", "RetrievalAbortedError", "retrieve_background_responses"]

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

    def row(self, ref: ResponseRef) -> dict[str, Any]:
        body = orjson.dumps(self.response).decode() if self.response is not None else None
        return {
            "response_id": ref.response_id,
            "custom_id": ref.custom_id,
            "status": self.status,
            "output_text": self.output_text,
            "openai_response": body,
            "error": self.error or None,
            "attempts": self.attempts,
        }


async def retrieve_background_responses(
    df: pd.DataFrame | None = None,
    openai_client: Any = None,
    logger: ParquetLogger | None = None,
    response_id_col: str = "response_id",
    custom_id_col: str = "custom_id",
    batch_size: int = 50,
    max_retries: int = 3,
    timeout: float = 30.0,
    show_progress: bool = True,
    checkpoint_file: str | os.PathLike[str] | None = None,
    return_results: bool = True,
    poll_interval_s: float = 5.0,
    max_wait_s: float = 900.0,
    log_dir: str | os.PathLike[str] | None = None,
    *,
    discover_from: str | os.PathLike[str] | None = None,
    filesystem: Any = None,
    retry_initial_wait_s: float = 0.5,
    retry_max_wait_s: float = 30.0,
    max_active_responses: int | None = None,
    response_parser: Callable[[dict[str, Any]], Any] | None = None,
    retrieval_config: Any = None,
    column_config: Any = None,
    s3_path: str | None = None,
) -> pd.DataFrame | None:
    """Fetch every background response of `df` until it finishes, logging each outcome once.

    Args:
        df: one row per response: `response_id_col` (required), `custom_id_col`, and when
            present `run_id`/`parent_run_id` of the LLM call that created it (so the events
            join to it). Duplicate ids are fetched once. None: discover the pending responses
            of the log directory (see `discover_from`).
        openai_client: `openai.AsyncOpenAI` or `openai.OpenAI` (called from threads); None
            builds an `AsyncOpenAI()` from the environment.
        logger: where events go; None with `log_dir`: a logger made for `log_dir` (closed at
            the end); None without: nothing is logged.
        response_id_col, custom_id_col: column names (a missing custom-id column: a warning
            and empty custom ids).
        batch_size: the most requests in flight at once.
        max_retries: retries per request for 429 (honouring `retry-after`), 408, 5xx,
            timeouts and connection errors; never for other 4xx.
        timeout: seconds per request.
        show_progress: a tqdm bar (`TQDM_DISABLE=1` silences it).
        checkpoint_file: a JSON-lines journal; a rerun skips what it records as completed or
            terminally failed and retries the rest.
        return_results: False returns None and keeps no per-response state (bounded memory).
        poll_interval_s: seconds between polls of a `queued`/`in_progress` response.
        max_wait_s: the longest one response is followed; it then ends as `timeout`
            (retried by the next run).
        log_dir: the log directory for a logger made here, and for discovery.
        discover_from: where discovery reads (a directory, an `s3://` URI, or a path on
            `filesystem`); default `log_dir`, else the logger's directory.
        filesystem: a `pyarrow.fs.FileSystem` for `discover_from`.
        retry_initial_wait_s, retry_max_wait_s: back-off of our retries (jittered, doubling;
            a server's retry-after hint is honoured up to `retry_max_wait_s`).
        max_active_responses: responses followed at once (default 4 x batch_size).
        response_parser: called with each completed response's dict; its result is logged
            as `parsed_output`.
        retrieval_config, column_config: the config objects of langchain-callback-parquet-
            logger (read by field name; they override the matching arguments).
        s3_path: an `s3://` log location to discover from (as in that package).

    Returns:
        A DataFrame with one row per unique id, in input order: `response_id`, `custom_id`,
        `status` (`completed`, `failed`, `cancelled`, `incomplete`, `error`, `timeout`),
        `output_text`, `openai_response` (JSON), `error`, `attempts` (requests in this run;
        0 for responses the checkpoint already held). None with `return_results=False`.

    Raises:
        ValueError, TypeError: bad arguments (named in the message).
        RetrievalAbortedError: an authentication, permission or `insufficient_quota` error.
    """
    compat = options_from_configs(retrieval_config, column_config)
    kw: dict[str, Any] = {
        "response_id_col": response_id_col,
        "custom_id_col": custom_id_col,
        "batch_size": batch_size,
        "max_retries": max_retries,
        "timeout": timeout,
        "show_progress": show_progress,
        "checkpoint_file": checkpoint_file,
        "return_results": return_results,
        "poll_interval_s": poll_interval_s,
        "max_wait_s": max_wait_s,
    } | compat
    results, _ = await run_retrieval(
        df,
        openai_client,
        logger,
        log_dir=log_dir,
        discover_from=discover_from or s3_path,
        filesystem=filesystem,
        retry_initial_wait_s=retry_initial_wait_s,
        retry_max_wait_s=retry_max_wait_s,
        max_active_responses=max_active_responses,
        response_parser=response_parser,
        **kw,
    )
    return results


async def run_retrieval(
    df: pd.DataFrame | None,
    openai_client: Any,
    logger: ParquetLogger | None,
    *,
    response_id_col: str = "response_id",
    custom_id_col: str = "custom_id",
    show_progress: bool = True,
    checkpoint_file: str | os.PathLike[str] | None = None,
    return_results: bool = True,
    log_dir: str | os.PathLike[str] | None = None,
    discover_from: str | os.PathLike[str] | None = None,
    filesystem: Any = None,
    response_parser: Callable[[dict[str, Any]], Any] | None = None,
    **options: Any,
) -> tuple[pd.DataFrame | None, Counter[str]]:
    """`retrieve_background_responses`, also returning the count of each final status."""
    opts = RetrievalOptions(**options)
    for name, flag in (("show_progress", show_progress), ("return_results", return_results)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if logger is not None and not callable(getattr(logger, "log_event", None)):
        raise TypeError(f"logger must be a ParquetLogger, got {type(logger).__name__}")
    if df is None:
        source = discover_from or log_dir or (logger.log_dir if logger is not None else None)
        if source is None:
            raise ValueError(
                "df is None: give log_dir, discover_from or a logger to discover "
                "the pending responses from"
            )
        df = find_pending_responses(source, filesystem)
    refs = response_refs(df, response_id_col, custom_id_col)
    own_logger = ParquetLogger(log_dir=log_dir) if logger is None and log_dir else None
    try:
        job = _Job(opts, logger or own_logger, response_parser, return_results, len(refs))
        return await job.run(refs, openai_client, checkpoint_file, show_progress)
    finally:
        if own_logger is not None:
            await asyncio.to_thread(own_logger.close)


class _Job:
    """One run: the client, the logger, the checkpoint, the progress bar and the results."""

    def __init__(
        self,
        opts: RetrievalOptions,
        logger: ParquetLogger | None,
        parser: Callable[[dict[str, Any]], Any] | None,
        return_results: bool,
        total: int,
    ) -> None:
        self.opts = opts
        self.logger = logger
        self.parser = parser
        self.rows: list[dict[str, Any] | None] | None = [None] * total if return_results else None
        self.counts: Counter[str] = Counter()
        self.journal: CheckpointWriter | None = None
        self.client: BackgroundClient | None = None
        self.progress: Progress | None = None

    async def run(
        self,
        refs: list[ResponseRef],
        openai_client: Any,
        checkpoint_file: str | os.PathLike[str] | None,
        show_progress: bool,
    ) -> tuple[pd.DataFrame | None, Counter[str]]:
        checkpoint = Checkpoint(checkpoint_file) if checkpoint_file is not None else None
        self.progress = Progress(len(refs), show_progress, "responses")
        try:
            todo = await self._resume(refs, checkpoint)
            if todo:
                self.client = _make_client(openai_client, self.opts)
                self.journal = CheckpointWriter(checkpoint) if checkpoint is not None else None
                await self._run_all(iter(todo), min(self.opts.active, len(todo)))
        finally:
            self.progress.close()
            if self.client is not None:
                await self.client.aclose()
            if checkpoint is not None:
                checkpoint.close()
        if self.logger is not None:
            await asyncio.to_thread(self.logger.flush)
        if self.rows is None:
            return None, self.counts
        frame = pd.DataFrame([r for r in self.rows if r is not None], columns=list(RESULT_COLUMNS))
        return frame, self.counts

    async def _resume(self, refs: list[ResponseRef], ckpt: Checkpoint | None) -> list[ResponseRef]:
        """The refs still to fetch; those the checkpoint holds as done count as progress."""
        if ckpt is None or not ckpt.entries:
            return refs
        entries = ckpt.entries
        unsure = [r.response_id for r in refs if _state(entries, r.response_id) == "logging"]
        settled = await self._settle(unsure, ckpt)
        todo = []
        for ref in refs:
            entry = settled.get(ref.response_id) or entries.get(ref.response_id)
            if entry is None or not entry.done:
                todo.append(ref)
                continue
            self._finish(ref, Outcome(entry.status or entry.state, 0, error=entry.error))
        return todo

    async def _settle(self, unsure: list[str], ckpt: Checkpoint) -> dict[str, CheckpointEntry]:
        """For ids whose final event may or may not be logged: look in the log."""
        if not unsure or self.logger is None:
            return {}
        # Everything in the ring before our own event is written once ours is: a barrier
        # for the events of the run that crashed.
        self.logger.log_event(RESUME, {"checkpoint": str(ckpt.path), "unsure_ids": unsure})
        await asyncio.to_thread(self.logger.flush)
        found = await asyncio.to_thread(find_finished_ids, self.logger.log_dir, unsure)
        settled = {
            rid: CheckpointEntry("completed" if status == "completed" else "failed", status)
            for rid, status in found.items()
        }
        await asyncio.to_thread(ckpt.append, list(settled.items()))
        return settled

    async def _run_all(self, todo: Iterator[ResponseRef], workers: int) -> None:
        # Workers share one iterator: memory follows the number of workers, not of ids.
        async def worker() -> None:
            for ref in todo:
                self._finish(ref, await self._follow(ref))

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except* _Fatal as fatal:
            cause = fatal.exceptions[0]
            assert isinstance(cause, _Fatal)
            raise RetrievalAbortedError(cause.failure.cause, self.counts) from None

    async def _follow(self, ref: ResponseRef) -> Outcome:
        """Poll one response until it ends, its deadline passes, or fetching fails."""
        assert self.client is not None
        opts, start = self.opts, time.monotonic()
        deadline = start + opts.max_wait_s
        self._log(ATTEMPT, ref, {"response_id": ref.response_id})
        attempts = polls = 0
        while True:
            try:
                response, requests = await self.client.retrieve(ref.response_id, deadline)
            except RetrievalFailed as failure:
                outcome = _failure_outcome(failure, attempts + failure.requests)
                if failure.verdict is Verdict.FATAL:
                    await self._record(ref, outcome, time.monotonic() - start)
                    raise _Fatal(failure) from None
                break
            attempts, polls = attempts + requests, polls + 1
            body = _as_dict(response)
            status = str(body.get("status") or "")
            if status not in WAITING:
                outcome = self._final_outcome(status, body, response, attempts)
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
            self._log(
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

    def _final_outcome(
        self, status: str, body: dict[str, Any], response: Any, attempts: int
    ) -> Outcome:
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

    async def _record(self, ref: ResponseRef, outcome: Outcome, elapsed_s: float) -> None:
        """Log the final event between the checkpoint's `logging` and outcome lines."""
        journal = self.journal if self.logger is not None else None
        final = outcome.status in TERMINAL or (outcome.status == "error" and not outcome.retryable)
        if journal is not None and final:
            await journal.write(ref.response_id, CheckpointEntry("logging"))
        self._log_final(ref, outcome, elapsed_s)
        if self.journal is not None:
            state = "completed" if outcome.status == "completed" else "failed"
            entry = CheckpointEntry(state if final else "transient", outcome.status, outcome.error)
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
                data["parsed_output"] = _parse(self.parser, outcome.response)
            self._log(COMPLETE, ref, data)
            return
        data |= {
            "error": outcome.error,
            "error_type": outcome.error_type,
            "retryable": outcome.retryable,
            "openai_response": outcome.response,
        }
        self._log(ERROR, ref, data)

    def _log(self, event_type: str, ref: ResponseRef, data: dict[str, Any]) -> None:
        if self.logger is not None:
            self.logger.log_event(
                event_type,
                data,
                custom_id=ref.custom_id or None,
                run_id=ref.run_id,
                parent_run_id=ref.parent_run_id,
            )

    def _finish(self, ref: ResponseRef, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        if self.rows is not None:
            self.rows[ref.index] = outcome.row(ref)
        if self.progress is not None:
            self.progress.advance(outcome.status != "completed")


class _Fatal(Exception):
    """Raised inside the task group to stop every worker (see RetrievalAbortedError)."""

    def __init__(self, failure: RetrievalFailed) -> None:
        super().__init__(str(failure))
        self.failure = failure


def _failure_outcome(failure: RetrievalFailed, attempts: int) -> Outcome:
    cause = failure.cause
    code = getattr(cause, "code", None)
    kind = code if isinstance(code, str) and code else type(cause).__name__
    retryable = failure.verdict is not Verdict.FINAL
    return Outcome("error", attempts, error=str(failure), error_type=kind, retryable=retryable)


def _make_client(openai_client: Any, opts: RetrievalOptions) -> BackgroundClient:
    owned = openai_client is None
    if owned:
        try:
            import openai
        except ImportError:
            raise ImportError(
                "openai_client is None and openai is not installed: "
                "pip install 'parquet-logger[openai]'"
            ) from None
        openai_client = openai.AsyncOpenAI()
    if not callable(getattr(getattr(openai_client, "responses", None), "retrieve", None)):
        raise TypeError(
            "openai_client must be an openai.AsyncOpenAI or openai.OpenAI, got "
            f"{type(openai_client).__name__}"
        )
    policy = RetryPolicy(opts.max_retries, opts.retry_initial_wait_s, opts.retry_max_wait_s)
    return BackgroundClient(openai_client, opts.batch_size, opts.timeout, policy, owned=owned)


def _state(entries: dict[str, CheckpointEntry], response_id: str) -> str:
    entry = entries.get(response_id)
    return entry.state if entry is not None else ""


def _as_dict(response: Any) -> dict[str, Any]:
    if isinstance(response, dict):
        return response
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        body = dump(mode="json")
        if isinstance(body, dict):
            return body
    return {"status": getattr(response, "status", None), "repr": repr(response)}


def _parse(parser: Callable[[dict[str, Any]], Any], body: dict[str, Any]) -> Any:
    try:
        return parser(body)
    except Exception as exc:  # a user's parser must not lose the response
        log.warning("response_parser raised %s: %s", type(exc).__name__, exc)
        return None
