"""`retrieve_background_responses`: fetch OpenAI background responses until they finish, log
each outcome once, and checkpoint it so a rerun (after any crash) picks up where this stopped.

The keywords become one `RetrievalOptions` (the seed's config objects filled in); the input
(a DataFrame, or the log's pending responses) becomes `ResponseRef`s; a `RetrievalJob` runs.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pandas as pd

from parquet_logger.batch.job_location import config_location
from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.errors import RetrievalAbortedError
from parquet_logger.retrieval.discovery import find_pending_responses
from parquet_logger.retrieval.job import RetrievalJob
from parquet_logger.retrieval.options import RetrievalOptions, with_seed_configs
from parquet_logger.retrieval.outcome import RESULT_COLUMNS, result_columns
from parquet_logger.retrieval.poller import ResponseParser
from parquet_logger.retrieval.refs import response_refs
from parquet_logger.s3config import S3Config

# The SDK builds the default client; a module attribute (None without openai), where the
# tests of the package users come from patch it.
openai: ModuleType | None
try:
    import openai
except ImportError:  # pragma: no cover - openai is an optional dependency
    openai = None

__all__ = [
    "RESULT_COLUMNS",
    "RetrievalAbortedError",
    "retrieve_background_responses",
    "run_retrieval",
]

_D = RetrievalOptions()  # the keyword defaults


async def retrieve_background_responses(
    df: pd.DataFrame | None = None,
    openai_client: Any = None,
    logger: ParquetLogger | None = None,
    response_id_col: str = _D.response_id_col,
    custom_id_col: str = _D.custom_id_col,
    batch_size: int = _D.batch_size,
    max_retries: int = _D.max_retries,
    timeout: float = _D.timeout,
    show_progress: bool = _D.show_progress,
    checkpoint_file: str | os.PathLike[str] | None = _D.checkpoint_file,
    return_results: bool = _D.return_results,
    poll_interval_s: float = _D.poll_interval_s,
    max_wait_s: float = _D.max_wait_s,
    log_dir: str | os.PathLike[str] | None = None,
    *,
    discover_from: str | os.PathLike[str] | None = None,
    filesystem: Any = None,
    retry_initial_wait_s: float = _D.retry_initial_wait_s,
    retry_max_wait_s: float = _D.retry_max_wait_s,
    max_active_responses: int | None = _D.max_active_responses,
    response_parser: Callable[[dict[str, Any]], Any] | None = None,
    retrieval_config: Any = None,
    column_config: Any = None,
    s3_path: str | None = None,
    storage_config: Any = None,
    job_config: Any = None,
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
        response_id_col, custom_id_col: column names (the default `custom_id` falls back to
            the seed's `logger_custom_id`; a missing custom-id column: a warning and empty
            custom ids).
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
        storage_config, job_config: with `df=None`, the job (`StorageConfig`, `JobConfig`
            of `batch_process`/`Batch`) whose logs hold the pending responses: its log
            directory, or its S3 prefix when `retrieval_config.source == "s3"`. The events
            go to that directory (and S3 target) through a logger made here, unless
            `logger` is given. A directory that does not exist yet holds nothing pending.

    Returns:
        A DataFrame with one row per unique id, in input order: `response_id`, `custom_id`,
        `status` (`completed`; `failed` (the response failed, or fetching it did), `cancelled`,
        `incomplete`; `error` for a status we do not know; `timeout` when `max_wait_s`
        passed), `output_text`, `openai_response` (JSON), `error`, `attempts` (requests in
        this run; 0 for responses the checkpoint already held), and `parsed_output` with a
        `response_parser`. Empty when nothing is pending; None with `return_results=False`.

    Raises:
        TypeError: an argument of the wrong type (named in the message).
        ValueError: an argument with a wrong value (named in the message).
        RetrievalAbortedError: an authentication, permission or `insufficient_quota` error.
    """
    s3_config: S3Config | None = None
    discover_from = discover_from or s3_path
    if df is None and storage_config is not None and discover_from is None and log_dir is None:
        df, discover_from, log_dir, s3_config = _job_source(
            storage_config, job_config, getattr(retrieval_config, "source", "local")
        )
    options = RetrievalOptions(
        response_id_col=response_id_col,
        custom_id_col=custom_id_col,
        batch_size=batch_size,
        max_retries=max_retries,
        timeout=timeout,
        show_progress=show_progress,
        checkpoint_file=checkpoint_file,
        return_results=return_results,
        poll_interval_s=poll_interval_s,
        max_wait_s=max_wait_s,
        retry_initial_wait_s=retry_initial_wait_s,
        retry_max_wait_s=retry_max_wait_s,
        max_active_responses=max_active_responses,
    )
    results, _ = await run_retrieval(
        df,
        openai_client,
        logger,
        with_seed_configs(options, retrieval_config, column_config),
        log_dir=log_dir,
        discover_from=discover_from,
        filesystem=filesystem,
        response_parser=response_parser,
        s3_config=s3_config,
    )
    return results


def _job_source(
    storage_config: Any, job_config: Any, source: object
) -> tuple[pd.DataFrame | None, str | None, str | None, S3Config | None]:
    """(df, discover_from, log_dir, s3_config) for discovery in a job's logs."""
    location = config_location(job_config, storage_config, datetime.now(UTC).date())
    log_dir = os.fspath(location.log_dir)
    if source == "s3":
        if location.s3_uri is None:
            raise ValueError(
                "retrieval_config.source='s3' needs storage_config.s3_config "
                "(or $LANGCHAIN_S3_BUCKET) to discover from"
            )
        return None, location.s3_uri, log_dir, location.s3
    if not location.log_dir.is_dir():
        return _NOTHING_PENDING.copy(), None, log_dir, location.s3
    return None, log_dir, log_dir, location.s3


_NOTHING_PENDING = pd.DataFrame({"response_id": [], "custom_id": []}, dtype=object)


def _default_client() -> Any:
    if openai is None:
        raise ImportError(
            "openai_client is None and openai is not installed: "
            "pip install 'parquet-logger[openai]'"
        )
    return openai.AsyncOpenAI()


async def run_retrieval(
    df: pd.DataFrame | None,
    openai_client: Any,
    logger: ParquetLogger | None,
    options: RetrievalOptions,
    *,
    log_dir: str | os.PathLike[str] | None = None,
    discover_from: str | os.PathLike[str] | None = None,
    filesystem: Any = None,
    response_parser: ResponseParser | None = None,
    s3_config: S3Config | None = None,
) -> tuple[pd.DataFrame | None, Counter[str]]:
    """`retrieve_background_responses` with its options gathered, also returning the count
    of each final status (what the command line reports). `s3_config` is the S3 target of
    a logger made here for `log_dir`."""
    if logger is not None and not callable(getattr(logger, "log_event", None)):
        raise TypeError(f"logger must be a ParquetLogger, got {type(logger).__name__}")
    if df is None:
        source = discover_from or log_dir or (logger.log_dir if logger is not None else None)
        if source is None:
            raise ValueError(
                "df is None: give storage_config (and job_config), log_dir, discover_from "
                "or a logger to discover the pending responses from"
            )
        df = find_pending_responses(source, filesystem)
    refs = response_refs(df, options.response_id_col, options.custom_id_col)
    if not refs:  # nothing to fetch: no client, no logger, no writer started
        empty = pd.DataFrame(columns=result_columns(response_parser))
        return (empty if options.return_results else None), Counter()
    own_logger = (
        ParquetLogger(log_dir=log_dir, s3_config=s3_config) if logger is None and log_dir else None
    )
    try:
        job = RetrievalJob(options, logger or own_logger, response_parser, len(refs))
        return await job.run(refs, openai_client, _default_client)
    finally:
        if own_logger is not None:
            await asyncio.to_thread(own_logger.close)
