"""`batch_process`: `batch_run` plus a ParquetLogger organised by job (category, version,
environment, date), the job's description in every row's `logger_metadata`, and the model
created for you when none is given.

The keywords become a `JobOptions` and a `BatchOptions` (the seed's config objects filled
in); the job's folder, S3 target, model and logger are made from them, then `run_batch`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from langchain_core.callbacks import BaseCallbackHandler

from parquet_logger.batch.job_location import JobLocation, job_location
from parquet_logger.batch.job_model import DEFAULT_OPENAI_MODEL, job_model
from parquet_logger.batch.job_options import (
    JOB_BATCH_DEFAULTS,
    JOB_DEFAULTS,
    JobOptions,
    apply_config_objects,
)
from parquet_logger.batch.options import BatchOptions
from parquet_logger.batch.run import check_frame, run_batch
from parquet_logger.capture.events import DEFAULT_EVENT_TYPES, EventType
from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.encode.safe_json import safe_json
from parquet_logger.frame_input import require_frame
from parquet_logger.s3config import S3Config

log = logging.getLogger("parquet_logger.batch")

# batch_process sets these ParquetLogger parameters itself.
_OWN_LOGGER_PARAMS = frozenset(
    {"log_dir", "logger_metadata", "buffer_size", "partition_on", "event_types", "s3_config"}
)
_J, _B = JOB_DEFAULTS, JOB_BATCH_DEFAULTS

__all__ = ["DEFAULT_OPENAI_MODEL", "AfterRows", "batch_process", "run_job"]


async def batch_process(
    df: pd.DataFrame,
    llm: Any = None,
    *,
    llm_class: type | None = _J.llm_class,
    llm_kwargs: Mapping[str, Any] | None = _J.llm_kwargs,
    model_kwargs: Mapping[str, Any] | None = _J.model_kwargs,
    structured_output: type | None = _J.structured_output,
    job_category: str = _J.job_category,
    job_subcategory: str | None = _J.job_subcategory,
    job_version: str | None = _J.job_version,
    job_environment: str | None = _J.job_environment,
    job_description: str | None = _J.job_description,
    job_metadata: Mapping[str, Any] | None = _J.job_metadata,
    output_dir: str | os.PathLike[str] = _J.output_dir,
    path_template: str = _J.path_template,
    s3_bucket: str | None = _J.s3_bucket,
    s3_prefix: str = _J.s3_prefix,
    s3_prefix_template: str | None = _J.s3_prefix_template,
    s3_on_failure: str = _J.s3_on_failure,
    s3_retry_attempts: int = _J.s3_retry_attempts,
    s3_config: S3Config | None = _J.s3_config,
    prompt_col: str = _B.prompt_col,
    config_col: str | None = _B.config_col,
    tools_col: str | None = _B.tools_col,
    max_concurrency: int = _B.max_concurrency,
    show_progress: bool = _B.show_progress,
    return_exceptions: bool = _B.return_exceptions,
    return_results: bool = _B.return_results,
    row_timeout: float | None = _B.row_timeout,
    max_retries: int = _B.max_retries,
    retry_initial_wait_s: float = _B.retry_initial_wait_s,
    retry_max_wait_s: float = _B.retry_max_wait_s,
    processes: int = _B.processes,
    mp_context: Any = _B.mp_context,
    engine: str = _B.engine,
    address: str | None = _B.address,
    ray_log_dir: str | os.PathLike[str] | None = _B.ray_log_dir,
    buffer_size: int | None = _J.buffer_size,
    partition_on: Any = _J.partition_on,
    event_types: Iterable[str | EventType] | None = _J.event_types,
    job_config: Any = None,
    storage_config: Any = None,
    processing_config: Any = None,
    column_config: Any = None,
    llm_config: Any = None,
    **logger_options: Any,
) -> list[Any] | None:
    """Run every row of `df` through an LLM, logging every event to a job's folder.

    Args:
        df: rows with a prompt column, and optionally config (`with_tags(...)`) and tools.
        llm: the runnable to use; if None, `llm_class(**llm_kwargs)` is created (default
            `ChatOpenAI` from langchain-openai with model DEFAULT_OPENAI_MODEL; tenacity owns
            retries, so the created model gets `max_retries=0` unless you set it).
        llm_class, llm_kwargs, model_kwargs: how to create the model when `llm` is None.
        structured_output: a Pydantic model: the model is wrapped with
            `with_structured_output(structured_output)`.
        job_category, job_subcategory, job_version, job_environment, job_description,
        job_metadata: the job; stored in every row's `logger_metadata` with the start time,
            the row count and the model's class and settings (secrets redacted).
        output_dir, path_template: logs go to `output_dir/<path_template filled in>`;
            variables: job_category, job_subcategory, environment, job_version,
            job_version_safe, date (UTC). Values are made path-safe.
        s3_bucket, s3_prefix, s3_prefix_template, s3_on_failure, s3_retry_attempts,
        s3_config: upload to S3 (the bucket may also come from $LANGCHAIN_S3_BUCKET). The
            key prefix is `s3_prefix_template` filled in, else `s3_prefix` + the local path.
        prompt_col, config_col, tools_col, max_concurrency, show_progress,
        return_exceptions, return_results, row_timeout, max_retries, retry_initial_wait_s,
        retry_max_wait_s, processes, mp_context, engine, address, ray_log_dir: as for
            `batch_run`. With `processes > 1` or `engine="ray"`, a model created from
            `llm_class`/`llm_kwargs` is created again in each worker (a ChatOpenAI does not
            pickle); an `llm` instance must pickle. With `engine="ray"` every node's writer
            uploads to the job's S3 prefix.
        buffer_size, partition_on, event_types: as for `ParquetLogger`; `event_types=None`
            logs the LLM events and `retry`.
        job_config, storage_config, processing_config, column_config, llm_config: the
            configuration objects of langchain-callback-parquet-logger, instead of the
            matching keywords (giving both with different values is an error).
        **logger_options: any other `ParquetLogger` parameter (e.g. flush_interval_s).

    Returns:
        The results in row order (a result or an exception per row), or None when
        `return_results=False`.

    Raises:
        TypeError: an argument of the wrong type (the message names it).
        ValueError: an argument with a wrong value, or a setting given twice differently.
        ImportError: no `llm` given and langchain-openai is not installed.
    """
    _check_logger_options(logger_options)
    require_frame(df)
    job, batch = apply_config_objects(
        JobOptions(
            job_category=job_category,
            job_subcategory=job_subcategory,
            job_version=job_version,
            job_environment=job_environment,
            job_description=job_description,
            job_metadata=job_metadata,
            output_dir=output_dir,
            path_template=path_template,
            s3_bucket=s3_bucket,
            s3_prefix=s3_prefix,
            s3_prefix_template=s3_prefix_template,
            s3_on_failure=s3_on_failure,
            s3_retry_attempts=s3_retry_attempts,
            s3_config=s3_config,
            buffer_size=buffer_size,
            partition_on=partition_on,
            event_types=event_types,
            llm_class=llm_class,
            llm_kwargs=llm_kwargs,
            model_kwargs=model_kwargs,
            structured_output=structured_output,
        ),
        BatchOptions(
            prompt_col=prompt_col,
            config_col=config_col,
            tools_col=tools_col,
            max_concurrency=max_concurrency,
            show_progress=show_progress,
            return_exceptions=return_exceptions,
            return_results=return_results,
            row_timeout=row_timeout,
            max_retries=max_retries,
            retry_initial_wait_s=retry_initial_wait_s,
            retry_max_wait_s=retry_max_wait_s,
            processes=processes,
            mp_context=mp_context,
            engine=engine,
            address=address,
            ray_log_dir=ray_log_dir,
        ),
        {
            "job_config": job_config,
            "storage_config": storage_config,
            "processing_config": processing_config,
            "column_config": column_config,
            "llm_config": llm_config,
        },
    )
    started = datetime.now(UTC)
    return await run_job(
        df, llm, job, batch, job_location(job, started.date()), started, logger_options
    )


# Called with the job's logger and the results (None when not kept) once every row has run,
# before the logger is closed: what `Batch.run` logs about the rows goes in with them.
AfterRows = Callable[[ParquetLogger, list[Any] | None], None]


async def run_job(
    df: pd.DataFrame,
    llm: Any,
    job: JobOptions,
    batch: BatchOptions,
    location: JobLocation,
    started: datetime,
    logger_options: Mapping[str, Any],
    *,
    observers: Sequence[BaseCallbackHandler] = (),
    after_rows: AfterRows | None = None,
) -> list[Any] | None:
    """`batch_process` with its options gathered and its location resolved (what `Batch.run`
    calls too): the model, the job's logger, the rows, the logger closed.

    Args:
        observers: more handlers to see every row's events besides the job's logger.
        after_rows: see `AfterRows`.
    """
    model = job_model(llm, job, batch.max_retries)
    check_frame(df, model.runnable, batch)  # before the logger starts, as run_batch would
    log_dir, s3 = location.log_dir, location.s3
    metadata = _logger_metadata(job, batch, model.facts, log_dir, s3, started, len(df))
    logger = _make_logger(job, log_dir, s3, metadata, dict(logger_options))
    handlers: list[BaseCallbackHandler] = [logger, *observers]
    row_callbacks = handlers
    if model.constructor_callbacks is not None:
        # A model that is not a LangChain runnable got a list at construction, as the
        # package users come from gave it its handlers; its rows' configs stay as given.
        model.constructor_callbacks.extend(handlers)
        row_callbacks = []
    log.info("batch_process: %d row(s); logs in %s%s", len(df), log_dir, _s3_note(s3))
    try:
        results = await run_batch(
            df,
            model.runnable,
            batch,
            callbacks=row_callbacks,
            progress_desc=location.values["job_category"],
            llm_factory=model.factory,
        )
        if after_rows is not None:
            after_rows(logger, results)
    finally:
        # close() waits for the writer (and the upload): off the event loop.
        await asyncio.to_thread(logger.close)
    log.info("batch_process: done; logs in %s%s", log_dir, _s3_note(s3))
    return results


def _check_logger_options(logger_options: dict[str, Any]) -> None:
    accepted = set(inspect.signature(ParquetLogger).parameters) - _OWN_LOGGER_PARAMS
    for name in logger_options:
        if name == "logger_metadata":
            raise TypeError("batch_process(): pass job_metadata, not logger_metadata")
        if name not in accepted:
            raise TypeError(
                f"batch_process() got an unexpected keyword argument {name!r}; "
                f"ParquetLogger options accepted: {sorted(accepted)}"
            )


def job_config_metadata(job: JobOptions, local_path: Path, s3_uri: str | None) -> dict[str, Any]:
    """The `job` and `storage` parts of a job's `batch_config`, as the package users come
    from logs them (batch runs and retrievals alike)."""
    return {
        "job": {
            "category": job.job_category,
            "subcategory": job.job_subcategory,
            "description": job.job_description,
            "version": job.job_version,
            "environment": job.job_environment,
            "metadata": job.job_metadata,
        },
        "storage": {
            "output_dir": os.fspath(job.output_dir),
            "path_template": job.path_template,
            "local_path": os.fspath(local_path),
            "s3": s3_uri,
        },
    }


def _logger_metadata(
    job: JobOptions,
    batch: BatchOptions,
    llm_facts: dict[str, Any],
    log_dir: Path,
    s3: S3Config | None,
    started: datetime,
    rows: int,
) -> dict[str, Any]:
    """The job's description in the layout of the package users come from, made JSON-safe
    and redacted."""
    s3_uri = f"s3://{s3.bucket}/{s3.prefix}" if s3 is not None else None
    metadata = {
        "batch_config": {
            **job_config_metadata(job, log_dir, s3_uri),
            "processing": {
                "max_concurrency": batch.max_concurrency,
                "row_timeout": batch.row_timeout,
                "max_retries": batch.max_retries,
                "return_results": batch.return_results,
                "engine": batch.engine,
            },
            "llm": llm_facts,
        },
        "batch_started_at": started.isoformat(),
        "batch_size": rows,
        **dict(job.job_metadata or {}),
    }
    tree = orjson.loads(safe_json(metadata, 1 << 20)[0])
    assert isinstance(tree, dict)
    return tree


def _make_logger(
    job: JobOptions,
    log_dir: Path,
    s3: S3Config | None,
    metadata: dict[str, Any],
    logger_options: dict[str, Any],
) -> ParquetLogger:
    event_types = job.event_types
    if event_types is None:
        event_types = sorted(DEFAULT_EVENT_TYPES | {EventType.RETRY})
    kwargs = dict(logger_options)
    if s3 is not None:
        kwargs["s3_config"] = s3  # uploads are the writer's job, configured per directory
    return ParquetLogger(
        log_dir,
        buffer_size=job.buffer_size,
        logger_metadata=metadata,
        partition_on=job.partition_on,
        event_types=event_types,
        **kwargs,
    )


def _s3_note(s3: S3Config | None) -> str:
    return f" and s3://{s3.bucket}/{s3.prefix}" if s3 is not None else ""
