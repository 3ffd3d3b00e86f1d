"""One `responses.retrieve` call for background retrieval: at most `max_in_flight` requests at
a time, the SDK's own retries switched off, and ours (tenacity) for transient failures only.

How a failed request is judged (by `status_code` and class name; openai is not imported):

| failure                                          | verdict | effect                     |
|--------------------------------------------------|---------|----------------------------|
| 429 (not `insufficient_quota`), 408, 5xx,        | `RETRY` | retried; then transient    |
| timeouts, connection errors                      |         | (the next run tries again) |
| 401, 403, 429 `insufficient_quota`               | `FATAL` | the whole job stops        |
| any other 4xx (400, 404, ...)                    | `FINAL` | this response failed       |
| anything else (not an HTTP error)                | `OTHER` | not retried; transient     |
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from parquet_logger.retry_policy import RetryPolicy, is_transient

__all__ = ["BackgroundClient", "Verdict", "judge"]


class Verdict(enum.Enum):
    RETRY = "retry"
    FATAL = "fatal"
    FINAL = "final"
    OTHER = "other"


def judge(exc: BaseException) -> Verdict:
    """What a failed retrieve means (see the module's table)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        quota = status == 429 and getattr(exc, "code", None) == "insufficient_quota"
        if status in (401, 403) or quota:
            return Verdict.FATAL
        if status in (408, 429) or status >= 500:
            return Verdict.RETRY
        return Verdict.FINAL
    return Verdict.RETRY if is_transient(exc) else Verdict.OTHER


class BackgroundClient:
    """`retrieve(response_id, deadline)` on an `openai.AsyncOpenAI` or (through a thread pool
    of `max_in_flight` threads) an `openai.OpenAI`; also any object shaped like them."""

    def __init__(
        self,
        client: Any,
        max_in_flight: int,
        timeout_s: float,
        retry: RetryPolicy,
        *,
        owned: bool = False,
    ) -> None:
        self._owned = client if owned else None  # a client we built is ours to close
        with_options = getattr(client, "with_options", None)
        # Our retries replace the SDK's: both at once would multiply the attempts.
        self._client = with_options(max_retries=0, timeout=timeout_s) if with_options else client
        self._retrieve = self._client.responses.retrieve
        self._is_async = inspect.iscoroutinefunction(self._retrieve)
        self._executor = (
            None
            if self._is_async
            else ThreadPoolExecutor(max_in_flight, thread_name_prefix="parquet-logger-retrieve")
        )
        self._slots = asyncio.Semaphore(max_in_flight)
        self._retry = retry

    async def retrieve(self, response_id: str, deadline: float) -> tuple[Any, int]:
        """The response, and the number of requests it took.

        Raises:
            RetrievalFailed: the last error (after retries for transient ones), with the
                number of requests made.
        """
        requests = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.max_retries + 1) | _past(deadline),
            wait=self._retry.wait_s,
            retry=retry_if_exception(lambda exc: judge(exc) is Verdict.RETRY),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with self._slots:  # held for the request only, not the back-off
                        requests += 1
                        response = await self._call(response_id)
        except Exception as exc:
            raise RetrievalFailed(exc, requests) from exc
        return response, requests

    async def _call(self, response_id: str) -> Any:
        if self._is_async:
            return await self._retrieve(response_id)
        loop = asyncio.get_running_loop()
        call = functools.partial(self._retrieve, response_id)
        return await loop.run_in_executor(self._executor, call)

    async def aclose(self) -> None:
        """Let the threads of a sync client go (a request still running finishes alone), and
        close the client if it was built here."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._owned is not None:
            closed = self._owned.close()
            if inspect.isawaitable(closed):
                await closed


class RetrievalFailed(Exception):
    """A retrieve that failed for good: `cause` is the last error, `requests` the count."""

    def __init__(self, cause: Exception, requests: int) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.requests = requests
        self.verdict = judge(cause)


class _past(stop_base):  # lower case, like tenacity's own stop conditions
    """tenacity `stop`: no retry once the response's deadline (monotonic) has passed."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() >= self.deadline
