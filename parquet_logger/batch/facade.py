"""`Batch` and `BatchOutcome`: the batch API of langchain-callback-parquet-logger 4.0.0, as a
thin layer over the same engine as `batch_process` (`job.run_job`) and
`retrieve_background_responses` (`retrieval.api`).

A `Batch` resolves its job's location once (local directory, S3 target); `run` logs every
row there and remembers the background responses its rows left queued (logging a
`background_retrieval_queued` event for each); `retrieve` fetches them, or those the logs
still owe, into the same location; `run_and_retrieve` does both.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from parquet_logger.batch import job as batch_job
from parquet_logger.batch.background import (
    OPENAI_BACKGROUND_CLASSES,
    Extractor,
    RunCapture,
    StructuredOutputParser,
    log_queued,
    openai_response_id,
    pending_responses,
)
from parquet_logger.batch.compat_config import (
    ColumnConfig,
    JobConfig,
    ProcessingConfig,
    RetrievalConfig,
    StorageConfig,
)
from parquet_logger.batch.job_location import job_location
from parquet_logger.batch.job_options import (
    JOB_BATCH_DEFAULTS,
    JOB_DEFAULTS,
    JobOptions,
    apply_config_objects,
)
from parquet_logger.batch.options import BatchOptions
from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.retrieval.discovery import find_pending_responses
from parquet_logger.retrieval.outcome import result_columns

__all__ = ["Batch", "BatchOutcome"]

_SKIPPED = (
    "No background response IDs captured: retrieval skipped. If you expected background "
    "responses, check that the model runs in background mode and that "
    "ProcessingConfig(return_exceptions=True) keeps the rows whose answer was pending."
)


def _say(line: str) -> None:
    """A status line on stdout, where 4.0.0's Batch printed its own (notebooks show it)."""
    sys.stdout.write(line + "\n")


@dataclass
class BatchOutcome:
    """What `Batch.run_and_retrieve` returns: the rows' results (None with
    `return_results=False`) and the retrieved responses (None when none were captured)."""

    batch_results: list[Any] | None
    retrieval_results: pd.DataFrame | None


class Batch:
    """A batch job: its configuration, its location, and the background responses of its
    last `run`.

    Args:
        job_config, storage_config, processing_config, column_config: as for
            `batch_process` (ours or the original package's objects, read by field name).
        retrieval_config: the default of `retrieve` and `run_and_retrieve`.

    Attributes:
        local_path: the job's log directory (created here).
        resolved_s3_config: its S3 target with the prefix resolved, or None.
    """

    def __init__(
        self,
        job_config: Any = None,
        storage_config: Any = None,
        processing_config: Any = None,
        column_config: Any = None,
        retrieval_config: Any = None,
    ) -> None:
        self.job_config = job_config if job_config is not None else JobConfig()
        self.storage_config = storage_config if storage_config is not None else StorageConfig()
        self.processing_config = (
            processing_config if processing_config is not None else ProcessingConfig()
        )
        self.column_config = column_config if column_config is not None else ColumnConfig()
        self.retrieval_config = (
            retrieval_config if retrieval_config is not None else RetrievalConfig()
        )
        job, _ = self._options(None)
        self._location = job_location(job, datetime.now(UTC).date())
        self.local_path = self._location.log_dir
        self.resolved_s3_config = self._location.s3
        self.local_path.mkdir(parents=True, exist_ok=True)
        # response id -> {custom_id, run_id, parent_run_id, tags}, of the last run() (the
        # original package's attribute name, which its users' tests seed).
        self._background_response_ids: dict[str, dict[str, Any]] = {}
        self._last_structured_output: Any = None

    @property
    def pending_response_ids(self) -> dict[str, dict[str, Any]]:
        """The background responses the last `run` captured:
        `{response_id: {"custom_id", "run_id", "parent_run_id", "tags"}}` (a copy)."""
        return dict(self._background_response_ids)

    async def run(
        self,
        df: pd.DataFrame,
        llm_config: Any,
        response_id_extractor: Extractor | None = None,
    ) -> list[Any] | None:
        """Run every row of `df` through the model `llm_config` describes, logging to the
        job's location (as `batch_process`).

        Args:
            df: the rows (columns named by `column_config`).
            llm_config: an `LLMConfig` (the model is created per run).
            response_id_extractor: `(result, row) -> response id or None` for results that
                are background responses; for a model class named ChatOpenAI or
                AzureChatOpenAI, answers whose `response_metadata` status is queued or
                in progress are captured without one.

        Returns:
            The results in row order, or None when `processing_config.return_results` is
            False (the ids are captured either way).

        Raises:
            ValueError: the prompt column is missing ("DataFrame missing required column").
        """
        self._background_response_ids = {}
        schema = getattr(llm_config, "structured_output", None)
        self._last_structured_output = schema
        background = getattr(llm_config.llm_class, "__name__", "") in OPENAI_BACKGROUND_CLASSES
        extractor = response_id_extractor or (openai_response_id if background else None)
        if schema is not None and background:
            warnings.warn(
                "structured_output with a background-capable model: a queued answer cannot "
                "be parsed yet, so its row's result is a ValueError; retrieve() parses the "
                "finished response into a parsed_output column.",
                UserWarning,
                stacklevel=2,
            )
        job, batch = self._options(llm_config)
        wanted = batch.return_results
        capture = RunCapture()

        def after_rows(logger: ParquetLogger, results: list[Any] | None) -> None:
            if extractor is None or results is None:
                return
            found = pending_responses(
                df,
                results,
                extractor,
                capture,
                getattr(self.column_config, "custom_id", "custom_id"),
                batch.config_col,
            )
            for response_id, entry in found.items():
                log_queued(logger, response_id, entry)
            self._background_response_ids = found

        if extractor is not None:  # the ids are read from the results: keep them
            batch = replace(batch, return_results=True)
        if batch.show_progress:
            _say(f"Starting {len(df)} row(s); logs in {self._where()}")
        results = await batch_job.run_job(
            df,
            None,
            job,
            batch,
            self._location,
            datetime.now(UTC),
            {},
            observers=[capture] if extractor is not None else [],
            after_rows=after_rows,
        )
        if batch.show_progress:
            failed = sum(isinstance(r, BaseException) for r in results or [])
            _say(f"Processed {len(df)}/{len(df)} rows ({failed} failed); logs in {self._where()}")
        return results if wanted else None

    async def retrieve(
        self,
        openai_client: Any = None,
        retrieval_config: Any = None,
        s3_path: str | None = None,
        df: pd.DataFrame | None = None,
    ) -> pd.DataFrame | None:
        """Fetch background responses, logging them to the job's location.

        Which ones, in order: `df` (a `response_id` column, as for
        `retrieve_background_responses`); else those pending in the logs at `s3_path`;
        else those the last `run` captured; else, by `retrieval_config.source`: none
        ("memory"), those pending in the job's log directory ("local") or S3 prefix ("s3").

        Returns:
            The results table (with `parsed_output` as instances of the last run's
            structured_output schema, if it had one); empty when nothing was pending; None
            with `return_results=False`.

        Raises:
            ValueError: source "s3" for a job without S3.
        """
        rc = retrieval_config if retrieval_config is not None else self.retrieval_config
        parser = (
            StructuredOutputParser(self._last_structured_output)
            if self._last_structured_output is not None
            else None
        )
        if df is None:
            df = self._pending(rc, s3_path)
            if df is None or df.empty:
                return pd.DataFrame(columns=result_columns(parser)) if rc.return_results else None
        if rc.show_progress:
            _say(f"Retrieving {len(df)} response(s); logs in {self._where()}")
        logger = ParquetLogger(
            self.local_path,
            logger_metadata=self._retrieval_metadata(),
            partition_on=self._options(None)[0].partition_on,
            s3_config=self.resolved_s3_config,
        )
        # Looked up at each call (not imported by name), like the original package did.
        from parquet_logger.retrieval import api

        try:
            results = await api.retrieve_background_responses(
                df=df,
                openai_client=openai_client,
                logger=logger,
                retrieval_config=rc,
                column_config=self.column_config,
                response_parser=parser,
            )
        finally:
            await asyncio.to_thread(logger.close)
        if parser is not None and results is not None and "parsed_output" in results.columns:
            results = results.assign(parsed_output=results["parsed_output"].map(parser.to_model))
        return results

    async def run_and_retrieve(
        self,
        df: pd.DataFrame,
        llm_config: Any,
        openai_client: Any = None,
        retrieval_config: Any = None,
        response_id_extractor: Extractor | None = None,
    ) -> BatchOutcome:
        """`run`, then `retrieve` the background responses it captured (skipped, with a
        printed note when `show_progress`, if it captured none)."""
        batch_results = await self.run(df, llm_config, response_id_extractor)
        if not self._background_response_ids:
            if getattr(self.processing_config, "show_progress", True):
                _say(_SKIPPED)
            return BatchOutcome(batch_results, None)
        retrieval_results = await self.retrieve(
            openai_client=openai_client,
            retrieval_config=retrieval_config or self.retrieval_config,
        )
        return BatchOutcome(batch_results, retrieval_results)

    # ------------------------------------------------------------------ helpers
    def _options(self, llm_config: Any) -> tuple[JobOptions, BatchOptions]:
        return apply_config_objects(
            JOB_DEFAULTS,
            JOB_BATCH_DEFAULTS,
            {
                "job_config": self.job_config,
                "storage_config": self.storage_config,
                "processing_config": self.processing_config,
                "column_config": self.column_config,
                "llm_config": llm_config,
            },
        )

    def _pending(self, rc: Any, s3_path: str | None) -> pd.DataFrame | None:
        """The responses to fetch when no df is given (None: nothing to look at)."""
        if s3_path is not None:
            return find_pending_responses(s3_path)
        if self._background_response_ids:
            return pd.DataFrame(
                [
                    {
                        getattr(self.column_config, "response_id", "response_id"): response_id,
                        getattr(self.column_config, "custom_id", "custom_id"): entry.get(
                            "custom_id", ""
                        ),
                        "run_id": entry.get("run_id", ""),
                        "parent_run_id": entry.get("parent_run_id", ""),
                    }
                    for response_id, entry in self._background_response_ids.items()
                ]
            )
        source = getattr(rc, "source", "memory")
        if source == "memory":
            return None
        if source == "s3":
            if self._location.s3_uri is None:
                raise ValueError(
                    "retrieval_config.source='s3' needs storage_config.s3_config "
                    "(or $LANGCHAIN_S3_BUCKET)"
                )
            found = find_pending_responses(self._location.s3_uri)
        else:
            found = find_pending_responses(self.local_path) if self.local_path.is_dir() else None
        if (found is None or found.empty) and getattr(rc, "show_progress", True):
            _say(f"No pending responses found in {self._where()}.")
        return found

    def _retrieval_metadata(self) -> dict[str, Any]:
        job, _ = self._options(None)
        return {
            "batch_config": batch_job.job_config_metadata(
                job, self.local_path, self._location.s3_uri
            ),
            "retrieval_started_at": datetime.now(UTC).isoformat(),
            **dict(job.job_metadata or {}),
        }

    def _where(self) -> str:
        s3 = self._location.s3_uri
        return os.fspath(self.local_path) + (f" and {s3}" if s3 else "")
