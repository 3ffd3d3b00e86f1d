"""Fixtures of the read-side tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.read.workload import ALL_EVENTS, run_workload


@pytest.fixture
def logged(make_logger: Callable[..., Any], log_dir: Path) -> Path:
    """A log directory holding the workload's events (flushed)."""
    logger = make_logger(event_types=ALL_EVENTS)
    run_workload(logger)
    logger.flush(timeout=30)
    return log_dir
