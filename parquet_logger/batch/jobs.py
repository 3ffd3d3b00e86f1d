"""`batch_process`: `batch_run` plus a ParquetLogger organised by job (category, version,
environment, date), the job's description in every row's `logger_metadata`, and the model
created for you when none is given."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from parquet_logger.batch.config import CONFIG_FIELDS, LLMConfig, as_s3_config
from parquet_logger.batch.job_paths import (
    DEFAULT_PATH_TEMPLATE,
    DEFAULT_S3_PREFIX,
    JobNames,
    local_dir,
    render,
    s3_prefix,
    template_values,
)
from parquet_logger.batch.processes import check_processes
from parquet_logger.batch.runner import batch_run, check_frame, check_options
from parquet_logger.capture.events import DEFAULT_EVENT_TYPES, EventType
from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.encode.safe_json import safe_json
from parquet_logger.s3config import S3Config

log = logging.getLogger("parquet_logger.batch")

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
# batch_process sets these ParquetLogger parameters itself.
_OWN_LOGGER_PARAMS = frozenset(
    {"log_dir", "logger_metadata", "buffer_size", "partition_on", "event_types", "s3_config"}
)
_S3_BUCKET_ENV = "LANGCHAIN_S3_BUCKET"  # honoured as the package users come from did

__all__ = ["DEFAULT_OPENAI_MODEL", "batch_process"]


async def batch_process(
    df: pd.DataFrame,
    llm: Any = None,
    *,
    llm_class: type | None = None,
    llm_kwargs: Mapping[str, Any] | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    structured_output: type | None = None,
    job_category: str = "batch_processing",
    job_subcategory: str | None = None,
    job_version: str | None = None,
    job_environment: str | None = None,
    job_description: str | None = None,
    job_metadata: Mapping[str, Any] | None = None,
    output_dir: str | os.PathLike[str] = "./batch_logs",
    path_template: str = DEFAULT_PATH_TEMPLATE,
    s3_bucket: str | None = None,
    s3_prefix: str = DEFAULT_S3_PREFIX,
    s3_prefix_template: str | None = None,
    s3_on_failure: str = "error",
    s3_retry_attempts: int = 3,
    s3_config: S3Config | None = None,
    prompt_col: str = "prompt",
    config_col: str | None = "config",
    tools_col: str | None = "tools",
    max_concurrency: int = 100,
    show_progress: bool = True,
    return_exceptions: bool = True,
    return_results: bool = True,
    row_timeout: float | None = None,
    max_retries: int = 2,
    retry_initial_wait_s: float = 0.5,
    retry_max_wait_s: float = 30.0,
    processes: int = 1,
    mp_context: Any = None,
    buffer_size: int | None = 1000,
    partition_on: Any = "date",
    event_types: Iterable[str | EventType] | None = None,
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
        retry_max_wait_s, processes, mp_context: as for `batch_run`. With `processes > 1`,
            a model created from `llm_class`/`llm_kwargs` is created again in each worker
            (a ChatOpenAI does not pickle); an `llm` instance must pickle.
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
        ValueError, TypeError: a bad argument (the message names it).
        ImportError: no `llm` given and langchain-openai is not installed.
    """
    given = {name: value for name, value in locals().items() if name in _DEFAULTS}
    options = _merge_config_objects(given)
    _check_logger_options(logger_options)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    started = datetime.now(UTC)
    job = JobNames(
        category=_job_category(options["job_category"]),
        subcategory=options["job_subcategory"],
        environment=options["job_environment"],
        version=options["job_version"],
    )
    values = template_values(job, started.date())
    segments = render(options["path_template"], values, "path_template")
    log_dir = local_dir(options["output_dir"], segments)
    s3 = _s3_target(options, segments, values)
    runnable, llm_factory, llm_facts = _make_llm(options)
    # batch_run checks these too, but only after the logger would have started.
    check_frame(df, runnable, options["prompt_col"], options["config_col"], options["tools_col"])
    check_options(
        options["max_concurrency"],
        options["row_timeout"],
        options["return_exceptions"],
        options["return_results"],
    )
    check_processes(options["processes"], options["mp_context"])
    metadata = _logger_metadata(options, llm_facts, log_dir, s3, started, len(df))
    logger = _make_logger(options, log_dir, s3, metadata, logger_options)
    log.info("batch_process: %d row(s); logs in %s%s", len(df), log_dir, _s3_note(s3))
    try:
        results = await batch_run(
            df,
            runnable,
            prompt_col=options["prompt_col"],
            config_col=options["config_col"],
            tools_col=options["tools_col"],
            max_concurrency=options["max_concurrency"],
            show_progress=options["show_progress"],
            return_exceptions=options["return_exceptions"],
            return_results=options["return_results"],
            row_timeout=options["row_timeout"],
            max_retries=options["max_retries"],
            retry_initial_wait_s=options["retry_initial_wait_s"],
            retry_max_wait_s=options["retry_max_wait_s"],
            callbacks=[logger],
            progress_desc=f"{values['job_category']}",
            processes=options["processes"],
            mp_context=options["mp_context"],
            llm_factory=llm_factory,
        )
    finally:
        # close() waits for the writer (and the upload): off the event loop.
        await asyncio.to_thread(logger.close)
    log.info("batch_process: done; logs in %s%s", log_dir, _s3_note(s3))
    return results


_DEFAULTS: dict[str, Any] = {
    name: p.default
    for name, p in inspect.signature(batch_process).parameters.items()
    if p.kind is inspect.Parameter.KEYWORD_ONLY or name == "llm"
}


def _merge_config_objects(given: dict[str, Any]) -> dict[str, Any]:
    """The keyword values, with the config objects' fields filled in (never modified)."""
    options = dict(given)
    for param, fields in CONFIG_FIELDS.items():
        config = given[param]
        if config is None:
            continue
        for field, keyword in fields.items():
            if not hasattr(config, field):
                raise TypeError(f"{param}: {type(config).__name__} has no field {field!r}")
            value = getattr(config, field)
            if given[keyword] != _DEFAULTS[keyword] and given[keyword] != value:
                raise ValueError(
                    f"{keyword} is given both as a keyword ({given[keyword]!r}) and in "
                    f"{param} ({value!r}); give it once"
                )
            options[keyword] = value
    options["s3_config"] = as_s3_config(options["s3_config"])
    return options


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


def _job_category(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"job_category must be a non-empty string, got {value!r}")
    return value


def _s3_target(
    options: dict[str, Any], segments: list[str], values: dict[str, str]
) -> S3Config | None:
    """The job's S3Config with its prefix resolved, or None when S3 is not in use."""
    base: S3Config | None = options["s3_config"]
    bucket = options["s3_bucket"]
    if base is not None and bucket is not None:
        raise ValueError("give s3_bucket or s3_config, not both")
    if base is None:
        bucket = bucket or os.environ.get(_S3_BUCKET_ENV) or None
        if bucket is None:
            if options["s3_prefix_template"] is not None:
                raise ValueError("s3_prefix_template needs s3_bucket (or s3_config)")
            return None
        base = S3Config(
            bucket=bucket,
            prefix=options["s3_prefix"],
            on_failure=options["s3_on_failure"],
            retry_attempts=options["s3_retry_attempts"],
        )
    prefix = s3_prefix(base.prefix, options["s3_prefix_template"], segments, values)
    return S3Config(**{**base.as_dict(), "prefix": prefix})


def _make_llm(
    options: dict[str, Any],
) -> tuple[Any, Callable[[], Any] | None, dict[str, Any]]:
    """The runnable to call, a picklable recipe that builds it again in a worker process (when
    we created it), and its description for `logger_metadata`."""
    llm, llm_class = options["llm"], options["llm_class"]
    created = llm is None
    kwargs = dict(options["llm_kwargs"] or {})
    if llm is not None and (llm_class is not None or kwargs or options["model_kwargs"]):
        raise ValueError("give llm (an instance) or llm_class/llm_kwargs, not both")
    if llm is None:
        if llm_class is None:
            llm_class = _chat_openai()
            kwargs.setdefault("model", DEFAULT_OPENAI_MODEL)
        if not isinstance(llm_class, type):
            raise TypeError(f"llm_class must be a class, got {llm_class!r}")
        if options["model_kwargs"]:
            kwargs["model_kwargs"] = dict(options["model_kwargs"])
        if options["max_retries"] and "max_retries" in getattr(llm_class, "model_fields", {}):
            kwargs.setdefault("max_retries", 0)  # one retry layer: ours, which logs
        llm = llm_class(**kwargs)
    facts = {
        "class": type(llm).__name__,
        "module": type(llm).__module__,
        "llm_kwargs": kwargs,
        "settings": getattr(llm, "_identifying_params", {}),
    }
    schema = options["structured_output"]
    if schema is not None:
        if not callable(getattr(llm, "with_structured_output", None)):
            raise TypeError(
                f"structured_output: {type(llm).__name__} has no with_structured_output()"
            )
        llm = llm.with_structured_output(schema)
        facts["structured_output"] = getattr(schema, "__name__", repr(schema))
    # A bound method of a plain dataclass: pickles by reference to the class, not the model.
    factory = LLMConfig(llm_class, kwargs, None, schema).create_llm if created else None
    return llm, factory, facts


def _chat_openai() -> type:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ImportError(
            "batch_process() creates a ChatOpenAI when no llm is given: "
            "pip install langchain-openai, or pass llm= / llm_class="
        ) from exc
    return ChatOpenAI


def _logger_metadata(
    options: dict[str, Any],
    llm_facts: dict[str, Any],
    log_dir: Path,
    s3: S3Config | None,
    started: datetime,
    rows: int,
) -> dict[str, Any]:
    """The job's description in the layout of the package users come from, made JSON-safe
    and redacted."""
    metadata = {
        "batch_config": {
            "job": {
                "category": options["job_category"],
                "subcategory": options["job_subcategory"],
                "description": options["job_description"],
                "version": options["job_version"],
                "environment": options["job_environment"],
                "metadata": options["job_metadata"],
            },
            "storage": {
                "output_dir": os.fspath(options["output_dir"]),
                "path_template": options["path_template"],
                "local_path": os.fspath(log_dir),
                "s3": f"s3://{s3.bucket}/{s3.prefix}" if s3 is not None else None,
            },
            "processing": {
                name: options[name]
                for name in ("max_concurrency", "row_timeout", "max_retries", "return_results")
            },
            "llm": llm_facts,
        },
        "batch_started_at": started.isoformat(),
        "batch_size": rows,
        **dict(options["job_metadata"] or {}),
    }
    tree = orjson.loads(safe_json(metadata, 1 << 20)[0])
    assert isinstance(tree, dict)
    return tree


def _make_logger(
    options: dict[str, Any],
    log_dir: Path,
    s3: S3Config | None,
    metadata: dict[str, Any],
    logger_options: dict[str, Any],
) -> ParquetLogger:
    event_types = options["event_types"]
    if event_types is None:
        event_types = sorted(DEFAULT_EVENT_TYPES | {EventType.RETRY})
    kwargs = dict(logger_options)
    if s3 is not None:
        kwargs["s3_config"] = s3  # uploads are the writer's job, configured per directory
    return ParquetLogger(
        log_dir,
        buffer_size=options["buffer_size"],
        logger_metadata=metadata,
        partition_on=options["partition_on"],
        event_types=event_types,
        **kwargs,
    )


def _s3_note(s3: S3Config | None) -> str:
    return f" and s3://{s3.bucket}/{s3.prefix}" if s3 is not None else ""
