"""One background-retrieval run: resume from the checkpoint (settling unsure ids from the
log), follow the rest with a fixed set of pollers, and count and collect the outcomes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.errors import RetrievalAbortedError
from parquet_logger.progress import Progress
from parquet_logger.retrieval.checkpoint import Checkpoint, CheckpointEntry, CheckpointWriter
from parquet_logger.retrieval.client import BackgroundClient
from parquet_logger.retrieval.discovery import find_finished_ids
from parquet_logger.retrieval.events import RESUME
from parquet_logger.retrieval.options import RetrievalOptions
from parquet_logger.retrieval.outcome import Outcome, result_columns
from parquet_logger.retrieval.poller import ResponseParser, ResponsePoller, StopJob
from parquet_logger.retrieval.refs import ResponseRef

__all__ = ["RetrievalJob"]


class RetrievalJob:
    """The run's client, logger, checkpoint, progress bar and results."""

    def __init__(
        self,
        opts: RetrievalOptions,
        logger: ParquetLogger | None,
        parser: ResponseParser | None,
        total: int,
    ) -> None:
        self.opts = opts
        self.logger = logger
        self.parser = parser
        self.rows: list[dict[str, Any] | None] | None = (
            [None] * total if opts.return_results else None
        )
        self.counts: Counter[str] = Counter()
        self.progress: Progress | None = None

    async def run(
        self, refs: list[ResponseRef], openai_client: Any, default_client: Callable[[], Any]
    ) -> tuple[pd.DataFrame | None, Counter[str]]:
        """Fetch `refs` to the end; the results table (or None) and the count per status.
        `default_client` builds the client when `openai_client` is None and there is
        something to fetch.

        Raises:
            RetrievalAbortedError: a `FATAL` failure stopped the run.
        """
        path = self.opts.checkpoint_file
        checkpoint = Checkpoint(path) if path is not None else None
        self.progress = Progress(len(refs), self.opts.show_progress, "responses")
        client: BackgroundClient | None = None
        try:
            todo = await self._resume(refs, checkpoint)
            if todo:
                client = make_client(openai_client, self.opts, default_client)
                journal = CheckpointWriter(checkpoint) if checkpoint is not None else None
                poller = ResponsePoller(client, self.opts, self.logger, journal, self.parser)
                await self._run_all(poller, iter(todo), min(self.opts.active, len(todo)))
        finally:
            self.progress.close()
            if client is not None:
                await client.aclose()
            if checkpoint is not None:
                checkpoint.close()
        if self.logger is not None:
            await asyncio.to_thread(self.logger.flush)
        if self.rows is None:
            return None, self.counts
        frame = pd.DataFrame(
            [r for r in self.rows if r is not None], columns=result_columns(self.parser)
        )
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

    async def _run_all(
        self, poller: ResponsePoller, todo: Iterator[ResponseRef], workers: int
    ) -> None:
        # Workers share one iterator: memory follows the number of workers, not of ids.
        async def worker() -> None:
            for ref in todo:
                self._finish(ref, await poller.follow(ref))

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except* StopJob as stopped:
            cause = stopped.exceptions[0]
            assert isinstance(cause, StopJob)
            raise RetrievalAbortedError(cause.failure.cause, self.counts) from None

    def _finish(self, ref: ResponseRef, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        if self.rows is not None:
            self.rows[ref.index] = outcome.row(ref, parsed=self.parser is not None)
        if self.progress is not None:
            self.progress.advance(outcome.status != "completed")


def make_client(
    openai_client: Any, opts: RetrievalOptions, default_client: Callable[[], Any]
) -> BackgroundClient:
    """Our client over the caller's OpenAI client (or one `default_client` builds, ours to
    close).

    Raises:
        TypeError: the client has no `responses.retrieve`.
    """
    owned = openai_client is None
    if owned:
        openai_client = default_client()
    if not callable(getattr(getattr(openai_client, "responses", None), "retrieve", None)):
        raise TypeError(
            "openai_client must be an openai.AsyncOpenAI or openai.OpenAI, got "
            f"{type(openai_client).__name__}"
        )
    return BackgroundClient(openai_client, opts.batch_size, opts.timeout, opts.retry, owned=owned)


def _state(entries: dict[str, CheckpointEntry], response_id: str) -> str:
    entry = entries.get(response_id)
    return entry.state if entry is not None else ""
