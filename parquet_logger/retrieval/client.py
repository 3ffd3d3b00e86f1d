"""One `responses.retrieve` call for background retrieval: at most `max_in_flight` requests at
a time, the SDK's own retries switched off, and ours (tenacity) for transient failures only.

A failed request is judged by `retry_policy.verdict`: `RETRY` failures are retried, then
left for the next run; `FATAL` stops the whole job; `FINAL` ends this response; `OTHER` is
not retried and left for the next run.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from parquet_logger.retry_policy import RetryPolicy, is_transient, verdict

__all__ = ["BackgroundClient", "RequestTimeout", "RetrievalFailed"]


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
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._owned = client if owned else None  # a client we built is ours to close
        self._timeout_s = timeout_s
        # Our retries replace the SDK's: both at once would multiply the attempts. Only a
        # real openai client is re-made with `with_options`; on anything else (a test
        # double such as `AsyncMock()`) it may not return a client at all.
        self._client = (
            client.with_options(max_retries=0, timeout=timeout_s)
            if _is_sdk_client(client)
            else client
        )
        self._retrieve = self._client.responses.retrieve
        self._is_async = inspect.iscoroutinefunction(self._retrieve)
        self._executor = (
            None
            if self._is_async
            else ThreadPoolExecutor(max_in_flight, thread_name_prefix="parquet-logger-retrieve")
        )
        self._slots = asyncio.Semaphore(max_in_flight)
        self._retry = retry
        # tenacity's back-off sleep; tests record the waits asked for. By default
        # `asyncio.sleep` looked up at each wait, so that patching it (as users' own tests
        # of the package they come from do) reaches our back-off too.
        self._sleep = sleep or _asyncio_sleep

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
            retry=retry_if_exception(is_transient),
            sleep=self._sleep,
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
        # The SDK enforces `timeout` itself; this bound also holds for any other client.
        try:
            async with asyncio.timeout(self._timeout_s):
                if self._is_async:
                    return await self._retrieve(response_id)
                loop = asyncio.get_running_loop()
                call = functools.partial(self._retrieve, response_id)
                return await loop.run_in_executor(self._executor, call)
        except TimeoutError:
            raise RequestTimeout(f"Timeout after {self._timeout_s}s") from None

    async def aclose(self) -> None:
        """Let the threads of a sync client go (a request still running finishes alone), and
        close the client if it was built here."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._owned is not None:
            closed = self._owned.close()
            if inspect.isawaitable(closed):
                await closed


class RequestTimeout(TimeoutError):
    """One `responses.retrieve` took longer than `timeout` (transient: retried)."""


class RetrievalFailed(Exception):
    """A retrieve that failed for good: `cause` is the last error, `requests` the count.
    Its text is the cause's own (`"404 Not found"`), as the package users come from
    reported it; the cause's class is kept apart as `error_type`."""

    def __init__(self, cause: Exception, requests: int) -> None:
        super().__init__(str(cause) or type(cause).__name__)
        self.cause = cause
        self.requests = requests
        self.verdict = verdict(cause)


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _is_sdk_client(client: Any) -> bool:
    """An `openai.OpenAI`/`openai.AsyncOpenAI` (or a subclass), without importing openai
    when the caller did not."""
    openai = sys.modules.get("openai")
    kinds = tuple(getattr(openai, name, None) for name in ("OpenAI", "AsyncOpenAI"))
    return any(isinstance(kind, type) and isinstance(client, kind) for kind in kinds)


class _past(stop_base):  # lower case, like tenacity's own stop conditions
    """tenacity `stop`: no retry once the response's deadline (monotonic) has passed."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() >= self.deadline
