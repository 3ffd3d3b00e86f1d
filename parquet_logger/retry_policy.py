"""When a failed LLM or OpenAI call is worth another attempt, and how long to wait before it.
Used by `batch_run` (every row) and background retrieval (every `responses.retrieve`).

One verdict per failure, read from its `status_code` and class name (neither openai nor httpx
is imported here), looking through up to five wrapping exceptions:

| failure                                            | verdict  | batch_run | retrieval         |
|----------------------------------------------------|----------|-----------|-------------------|
| 408, 409, 429 (not `insufficient_quota`), 5xx,     | `RETRY`  | retried   | retried; then the |
| timeouts, connection errors                        |          |           | next run retries  |
| 401, 403, 429 `insufficient_quota`                 | `FATAL`  | failed    | the job stops     |
| any other HTTP status (400, 404, 422, ...)         | `FINAL`  | failed    | this response ends|
| anything else (not an HTTP or network error)       | `OTHER`  | failed    | next run retries  |

409 is retried as the OpenAI SDK's own `_should_retry` does (a lock timeout on their side).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState
from tenacity.wait import wait_random_exponential

from parquet_logger.validation import require_int, require_seconds

__all__ = ["RetryPolicy", "Verdict", "is_transient", "retry_after_s", "verdict"]

_RETRY_STATUS = frozenset({408, 409, 429})
_FATAL_STATUS = frozenset({401, 403})
_TRANSIENT_NAMES = frozenset(
    {
        "APIConnectionError",
        "APITimeoutError",
        "RateLimitError",
        "InternalServerError",
        "ServiceUnavailableError",
        "ConnectError",
        "ConnectTimeout",
        "ReadTimeout",
        "ReadError",
        "RemoteProtocolError",
        "PoolTimeout",
    }
)
_MAX_CHAIN = 5  # how far down __cause__/__context__ a wrapped provider error is looked for


class Verdict(enum.Enum):
    """What a failure means (see the module's table)."""

    RETRY = "retry"
    FATAL = "fatal"
    FINAL = "final"
    OTHER = "other"


def verdict(exc: BaseException) -> Verdict:
    """Judge a failed call.

    Args:
        exc: the exception an attempt raised.

    Returns:
        The verdict of the first exception in `exc`'s chain (`__cause__`, else
        `__context__`) that is an HTTP, timeout or connection error; `OTHER` if none is.
    """
    seen: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if seen is None:
            break
        found = _own_verdict(seen)
        if found is not None:
            return found
        seen = seen.__cause__ or seen.__context__
    return Verdict.OTHER


def is_transient(exc: BaseException) -> bool:
    """True when `exc` is worth retrying (`verdict(exc) is Verdict.RETRY`)."""
    return verdict(exc) is Verdict.RETRY


def _own_verdict(exc: BaseException) -> Verdict | None:
    """This exception's verdict, or None to look at what it wraps."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        if status in _FATAL_STATUS or (
            status == 429 and getattr(exc, "code", None) == "insufficient_quota"
        ):
            return Verdict.FATAL
        if status in _RETRY_STATUS or status >= 500:
            return Verdict.RETRY
        return Verdict.FINAL
    if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__):
        return Verdict.RETRY
    if isinstance(exc, TimeoutError | ConnectionError):
        return Verdict.RETRY
    return None


def retry_after_s(exc: BaseException | None) -> float | None:
    """The server's `retry-after-ms` / `retry-after` (seconds) hint on an HTTP error, if any."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name)) * scale
        except (TypeError, ValueError, AttributeError):
            continue
        if math.isfinite(value) and value >= 0:
            return value
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures of one row (or one request) are retried.

    Args:
        max_retries: retries after the first attempt (0: no retries).
        initial_wait_s: the first back-off; it doubles per retry, with full jitter.
        max_wait_s: the longest single back-off (also caps a server's retry-after hint).

    Raises:
        TypeError: a value of the wrong type.
        ValueError: a negative count or wait, NaN or infinity.
    """

    max_retries: int = 2
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0

    def __post_init__(self) -> None:
        require_int("max_retries", self.max_retries, minimum=0)
        require_seconds("retry_initial_wait_s", self.initial_wait_s, allow_zero=True)
        require_seconds("retry_max_wait_s", self.max_wait_s, allow_zero=True)

    def wait_s(self, retry_state: RetryCallState) -> float:
        """tenacity `wait`: exponential back-off with jitter, or the server's hint if longer."""
        backoff = wait_random_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s)
        wait = float(backoff(retry_state)) if self.initial_wait_s else 0.0
        outcome: Any = retry_state.outcome
        hint = retry_after_s(outcome.exception() if outcome is not None else None)
        return max(wait, min(hint, self.max_wait_s)) if hint is not None else wait
