"""Fixtures for the end-to-end scenarios: worker processes of each start method, always
reaped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scenarios.processes import START_METHODS, Workers


@pytest.fixture(params=START_METHODS)
def workers(request: pytest.FixtureRequest, log_dir: Path) -> Iterator[Workers]:
    """Start worker processes with each start method; all are reaped at teardown.

    Depends on `log_dir` so that the workers are gone before that fixture waits for the
    writer to exit (a live worker would keep it running).
    """
    pool = Workers(request.param)
    try:
        yield pool
    finally:
        pool.reap()
