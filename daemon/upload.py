"""Uploading finished Parquet files to S3, from the spool, on a thread of their own.

One retry layer: tenacity (exponential back-off with jitter, bounded by attempts and a
deadline) around a single `put_object`; botocore's own retries are off, so attempts never
multiply. Throttling, 5xx, timeouts and connection errors are retried; 4xx (access denied,
no such bucket) are not. `put_object(IfNoneMatch="*")` makes an upload create-only: a retry
after an attempt that did land gets 412, which counts as success once the object's size
matches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from parquet_logger.s3config import S3Config
from parquet_logger.transport.protocol import UploadFailure

from .spool import Spool, SpoolEntry

log = logging.getLogger("parquet_logger_daemon")

RETRY_FAILED_EVERY_S = 60.0
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "ConditionalRequestConflict",
}


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: throttling, 5xx, timeouts, dropped connections."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(
        exc,
        ConnectionClosedError | EndpointConnectionError | ReadTimeoutError | ConnectTimeoutError,
    ):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in _TRANSIENT_CODES or status >= 500 or status == 429
    from botocore.exceptions import HTTPClientError

    return isinstance(exc, HTTPClientError | ConnectionError | TimeoutError)


def describe(exc: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class UploadCounters:
    uploaded: int = 0
    failed: int = 0
    retries: int = 0
    last_error: UploadFailure | None = None


class Uploader:
    """A thread that uploads spool entries in order and reports how far it has settled.

    `on_settled(end)` is called once every file of a commit up to ring position `end` is
    uploaded or has definitively failed; `on_failure()` after each definitive failure.
    """

    def __init__(
        self,
        config: S3Config,
        spool: Spool,
        on_settled: Callable[[int], None],
        on_failure: Callable[[], None],
        client: Any = None,
    ) -> None:
        self.config = config
        self.spool = spool
        self.counters = UploadCounters()
        self._on_settled = on_settled
        self._on_failure = on_failure
        # A client that cannot be built (boto3 missing, a bad setting) must not stop the
        # writer: its Parquet files are still written and spooled, and each upload fails
        # at once with this cause (counted, and raised by flush() in "error" mode) until a
        # writer that can upload resumes the spool.
        self._client, self.broken = (client, None) if client is not None else _client_for(config)
        self._queue: queue.Queue[tuple[int | None, list[SpoolEntry]] | None] = queue.Queue()
        self._failed: list[SpoolEntry] = []
        self._retry_failed_at = 0.0
        self._thread = threading.Thread(target=self._run, name="s3-upload", daemon=True)

    def start(self, pending: list[SpoolEntry], settles: int | None = None) -> None:
        """Start the thread; upload `pending` first, then report ring position `settles`
        settled (files committed by an earlier writer but never confirmed by S3)."""
        if pending:
            log.info("resuming %d upload(s) left in the spool", len(pending))
            self._queue.put((settles, pending))
        self._thread.start()

    def submit(self, end: int, entries: list[SpoolEntry]) -> None:
        """Upload a commit's files; `end` is the ring position they cover."""
        self._queue.put((end, entries))

    def stop(self, timeout_s: float) -> bool:
        """Finish what is queued (bounded by `timeout_s`); True if everything settled."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def pending(self) -> int:
        return len(self.spool)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=5.0)
            except queue.Empty:
                self._retry_failed()
                continue
            if item is None:
                return
            end, entries = item
            for entry in entries:
                self._upload(entry)
            if end is not None:
                self._on_settled(end)
            self._retry_failed()

    def _retry_failed(self) -> None:
        # on_failure="continue": failed files stay in the spool and are tried again now and
        # then (and at the next start); "error" keeps them for the next start only.
        if not self._failed or self.config.on_failure != "continue" or self.broken:
            return
        if time.monotonic() < self._retry_failed_at:
            return
        failed, self._failed = self._failed, []
        for entry in failed:
            self._upload(entry)

    def _upload(self, entry: SpoolEntry) -> None:
        if self.broken is not None:
            self._fail(entry, self.broken)
            return
        try:
            data = entry.path.read_bytes()
        except FileNotFoundError:
            log.error("spooled file %s is gone; dropping its upload", entry.path)
            self.spool.done(entry)
            self._fail(entry, "the local file is gone")
            return
        retrying = Retrying(
            stop=stop_after_attempt(self.config.retry_attempts)
            | stop_after_delay(self.config.deadline_s),
            wait=wait_exponential_jitter(initial=0.2, max=10.0, jitter=0.5),
            retry=retry_if_exception(is_transient),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            retrying(self._put, entry.key, data)
        except Exception as exc:
            self._fail(entry, describe(exc))
            return
        self.spool.done(entry)
        self.counters.uploaded += 1
        if not self.config.keep_local:
            entry.path.unlink(missing_ok=True)

    def _put(self, key: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.put_object(Bucket=self.config.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status != 412:
                raise
            # Already there: an earlier attempt landed. Same size means the same file (the
            # key holds a unique file name); anything else is a real conflict.
            head = self._client.head_object(Bucket=self.config.bucket, Key=key)
            if head.get("ContentLength") != len(data):
                raise

    def _count_retry(self, state: RetryCallState) -> None:
        self.counters.retries += 1
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        log.warning(
            "S3 upload attempt %d failed (%s); retrying",
            state.attempt_number,
            describe(error) if error else "?",
        )

    def _fail(self, entry: SpoolEntry, cause: str) -> None:
        self.counters.failed += 1
        self.counters.last_error = UploadFailure(self.config.bucket, entry.key, cause)
        log.error(
            "upload of s3://%s/%s failed: %s (kept in the spool)",
            self.config.bucket,
            entry.key,
            cause,
        )
        if entry.path.exists():
            self._failed.append(entry)
            self._retry_failed_at = time.monotonic() + RETRY_FAILED_EVERY_S
        self._on_failure()


def _client_for(config: S3Config) -> tuple[Any, str | None]:
    """`make_client(config)`, or None and why the uploads cannot start (logged loudly)."""
    try:
        return make_client(config), None
    except ImportError:
        cause = (
            'boto3 is not installed where the writer runs: pip install "parquet-logger[s3]"; '
            "the files wait in the spool until a writer that can upload runs"
        )
    except Exception as exc:
        cause = f"the S3 client could not be built: {type(exc).__name__}: {exc}"
    log.error("uploads to s3://%s cannot start: %s", config.bucket, cause)
    return None, cause


def make_client(config: S3Config) -> Any:
    """A boto3 S3 client with botocore's retries off (tenacity owns them)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        config=Config(
            retries={"total_max_attempts": 1},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        ),
    )


def key_for(prefix: str, relative: str) -> str:
    """The S3 key of a file: prefix + its path relative to the log directory, with `/`."""
    return prefix + relative.replace("\\", "/")
