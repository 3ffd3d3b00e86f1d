"""retry_policy: one verdict per failure, shared by batch_run and background retrieval."""

from __future__ import annotations

import pytest
from tenacity import RetryCallState, Retrying

from parquet_logger.retry_policy import RetryPolicy, Verdict, is_transient, verdict
from tests.batch_models import FakeRateLimitError


def http_error(status: int, code: str | None = None) -> Exception:
    """An exception shaped like openai.APIStatusError (a status_code and a code)."""
    return type("APIStatusError", (Exception,), {"status_code": status, "code": code})()


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, None, Verdict.FINAL),
        (401, None, Verdict.FATAL),
        (403, None, Verdict.FATAL),
        (404, None, Verdict.FINAL),
        (408, None, Verdict.RETRY),
        (409, None, Verdict.RETRY),  # retried, as openai's own _should_retry does
        (422, None, Verdict.FINAL),
        (429, None, Verdict.RETRY),
        (429, "rate_limit_exceeded", Verdict.RETRY),
        (429, "insufficient_quota", Verdict.FATAL),
        (500, None, Verdict.RETRY),
        (502, None, Verdict.RETRY),
        (503, None, Verdict.RETRY),
    ],
)
def test_verdict_per_status_code(status: int, code: str | None, expected: Verdict) -> None:
    """Each HTTP status has one verdict, and is_transient agrees with it."""
    exc = http_error(status, code)
    assert verdict(exc) is expected
    assert is_transient(exc) is (expected is Verdict.RETRY)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (type("RateLimitError", (Exception,), {})(), Verdict.RETRY),
        (type("APIConnectionError", (Exception,), {})(), Verdict.RETRY),
        (TimeoutError(), Verdict.RETRY),
        (ConnectionResetError(), Verdict.RETRY),
        (ValueError("bad json"), Verdict.OTHER),
    ],
)
def test_verdict_without_a_status_code(exc: BaseException, expected: Verdict) -> None:
    """Network errors and timeouts are retried; anything else is OTHER (not retried)."""
    assert verdict(exc) is expected


def test_verdict_looks_through_wrapping() -> None:
    """The first HTTP error down the __cause__ chain decides, however it is wrapped."""
    outer = RuntimeError("wrapped")
    outer.__cause__ = http_error(401)
    assert verdict(outer) is Verdict.FATAL
    outer.__cause__ = http_error(409)
    assert verdict(outer) is Verdict.RETRY


def test_wait_is_the_server_hint_capped_by_max_wait() -> None:
    """The requested wait is the retry-after hint when longer than the back-off, capped."""

    class Hinted(Exception):
        status_code = 429
        response = type("R", (), {"headers": {"retry-after": "4"}})()

    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.set_exception((Hinted, Hinted(), None))
    assert RetryPolicy(initial_wait_s=0.0, max_wait_s=10).wait_s(state) == 4.0
    assert RetryPolicy(initial_wait_s=0.0, max_wait_s=3).wait_s(state) == 3.0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_retries": "2"}, TypeError),
        ({"max_retries": -1}, ValueError),
        ({"initial_wait_s": "1"}, TypeError),
        ({"max_wait_s": -0.5}, ValueError),
    ],
)
def test_bad_policy_values(kwargs: dict[str, object], error: type) -> None:
    """A wrong type is a TypeError, a wrong value a ValueError."""
    with pytest.raises(error):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (type("RateLimitError", (Exception,), {})(), True),
        (type("APIConnectionError", (Exception,), {})(), True),
        (type("E", (Exception,), {"status_code": 503})(), True),
        (type("E", (Exception,), {"status_code": 408})(), True),
        (type("E", (Exception,), {"status_code": 400})(), False),
        (type("E", (Exception,), {"status_code": 429, "code": "insufficient_quota"})(), False),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (ValueError("bad json"), False),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    """429/408/5xx, timeouts and connection errors are transient; quota and 4xx are not."""
    assert is_transient(exc) is transient


def test_is_transient_looks_through_wrapping() -> None:
    """A provider error wrapped by another exception is still recognised."""
    outer = RuntimeError("wrapped")
    outer.__cause__ = FakeRateLimitError("429")
    assert is_transient(outer)


def test_wait_honours_retry_after_and_caps_it() -> None:
    """The back-off is at least the server's retry-after-ms hint, and at most max_wait_s."""

    class Hinted(Exception):
        status_code = 429
        response = type("R", (), {"headers": {"retry-after-ms": "2500"}})()

    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.set_exception((Hinted, Hinted(), None))
    assert RetryPolicy(initial_wait_s=0.0, max_wait_s=10).wait_s(state) == 2.5
    assert RetryPolicy(initial_wait_s=0.0, max_wait_s=1).wait_s(state) == 1
    assert 0 <= RetryPolicy(initial_wait_s=0.1, max_wait_s=5).wait_s(state) <= 5
