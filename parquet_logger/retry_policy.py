"""When a failed LLM call is worth another attempt, and how long to wait before it.

Transient: HTTP 408/409/429/5xx (except 429 `insufficient_quota`), timeouts and connection
errors. Provider exceptions are recognised by their `status_code` and class name, so neither
openai nor httpx is imported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState
from tenacity.wait import wait_random_exponential

_RETRY_STATUS = frozenset({408, 409, 429})
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


def is_transient(exc: BaseException) -> bool:
    """Tell whether `exc` (or an exception it wraps) is worth retrying.

    Args:
        exc: the exception an attempt raised.

    Returns:
        True for rate limits (429, not `insufficient_quota`), 408, 409, 5xx, timeouts and
        connection errors; False for everything else (bad requests, auth, parsing, ...).
    """
    seen: BaseException | None = exc
    for _ in range(_MAX_CHAIN):
        if seen is None:
            return False
        verdict = _judge(seen)
        if verdict is not None:
            return verdict
        seen = seen.__cause__ or seen.__context__
    return False


def _judge(exc: BaseException) -> bool | None:
    """True/False when this exception decides it, None to look at what it wraps."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status == 429 and getattr(exc, "code", None) == "insufficient_quota":
            return False
        return status in _RETRY_STATUS or status >= 500
    if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__):
        return True
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
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
    """How transient failures of one row are retried.

    Args:
        max_retries: retries after the first attempt (0: no retries).
        initial_wait_s: the first back-off; it doubles per retry, with full jitter.
        max_wait_s: the longest single back-off (also caps a server's retry-after hint).
    """

    max_retries: int = 2
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 0
        ):
            raise ValueError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
        for name in ("initial_wait_s", "max_wait_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number of seconds, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")

    def wait_s(self, retry_state: RetryCallState) -> float:
        """tenacity `wait`: exponential back-off with jitter, or the server's hint if longer."""
        backoff = wait_random_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s)
        wait = float(backoff(retry_state)) if self.initial_wait_s else 0.0
        outcome: Any = retry_state.outcome
        hint = retry_after_s(outcome.exception() if outcome is not None else None)
        return max(wait, min(hint, self.max_wait_s)) if hint is not None else wait
