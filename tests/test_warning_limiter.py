"""Warnings are rate-limited per kind: one flood does not hide another kind of problem."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from parquet_logger import ParquetLogger
from parquet_logger.warning_limiter import WarningLimiter

log = logging.getLogger("tests.warning_limiter")


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == log.name]


def test_two_kinds_within_the_window_are_both_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Different kinds do not share a timer: each logs its first warning."""
    limiter = WarningLimiter(log, period_s=60.0, clock=Clock())
    with caplog.at_level(logging.WARNING, logger=log.name):
        assert limiter.warn("callback failure", "first %s", "a")
        assert limiter.warn("ring full", "second %s", "b")
    assert messages(caplog) == ["first a", "second b"]


def test_same_kind_logs_once_then_reports_what_it_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A kind logs once per window; its next warning after the window counts the suppressed."""
    clock = Clock()
    limiter = WarningLimiter(log, period_s=60.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger=log.name):
        assert limiter.warn("ring full", "dropped %d", 1)
        clock.now += 30.0
        assert not limiter.warn("ring full", "dropped %d", 2)
        clock.now += 29.0
        assert not limiter.warn("ring full", "dropped %d", 3)
        clock.now += 1.0  # 60 s after the first: the window is over
        assert limiter.warn("ring full", "dropped %d", 4)
        clock.now += 60.0
        assert limiter.warn("ring full", "dropped %d", 5)
    assert messages(caplog) == [
        "dropped 1",
        "dropped 4 (2 more like this since the previous warning, not logged)",
        "dropped 5",
    ]


def test_many_kinds_stay_bounded() -> None:
    """A caller that invents a kind per call cannot grow the table without bound."""
    clock = Clock()
    limiter = WarningLimiter(logging.getLogger("tests.quiet"), period_s=60.0, clock=clock)
    logging.getLogger("tests.quiet").disabled = True
    try:
        for n in range(2000):
            limiter.warn(("kind", n), "kind %d", n)
            clock.now += 0.001
    finally:
        logging.getLogger("tests.quiet").disabled = False
    assert len(limiter._kinds) <= 256


class ExplodingSerialized(dict[str, Any]):
    """A `serialized` argument whose look-ups raise (a broken integration)."""

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("serialized is broken")


def test_handler_warns_once_per_event_type_of_failing_callbacks(
    make_logger: Callable[..., ParquetLogger], caplog: pytest.LogCaptureFixture
) -> None:
    """Failures of two event types both warn; a second failure of one type is only counted."""
    logger = make_logger()
    broken = ExplodingSerialized()
    with caplog.at_level(logging.WARNING, logger="parquet_logger"):
        logger.on_llm_start(broken, ["p"], run_id=uuid.uuid4())
        logger.on_chain_start(broken, {}, run_id=uuid.uuid4())
        logger.on_llm_start(broken, ["p"], run_id=uuid.uuid4())
    warned = [r.getMessage() for r in caplog.records if r.name == "parquet_logger"]
    assert len(warned) == 2, warned
    assert "llm_start" in warned[0]
    assert "serialized is broken" in warned[0]
    assert "chain_start" in warned[1]
    assert logger.stats()["callback_failures"] == 3
