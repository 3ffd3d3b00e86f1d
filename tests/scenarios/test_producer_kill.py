"""A producer SIGKILLed in the middle of a burst: every event whose callback returned is on
disk, and the producers that share its ring never block."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger
from tests.scenarios import producers
from tests.scenarios.processes import Workers
from tests.support import read_rows

pytestmark = pytest.mark.slow

KILL_AFTER = 3_000  # events whose callbacks returned before the kill
SURVIVORS = 2
AFTER_KILL = 1_000  # events each survivor logs after the kill
TIMEOUT_S = 60.0


def test_killed_producer_loses_nothing_and_blocks_no_one(
    workers: Workers, make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """SIGKILL one of three producers mid-burst: its returned events are all on disk (at most
    one more, published just before the kill), and the other two finish every event."""
    logger = make_logger()
    ctx = workers.ctx
    go = ctx.Barrier(1 + SURVIVORS)
    returned, reached, stop = ctx.RawValue("q", 0), ctx.Event(), ctx.Event()
    victim = workers.start(producers.log_until_killed, logger, returned, reached, KILL_AFTER, go)
    logged = [ctx.RawValue("q", 0) for _ in range(SURVIVORS)]
    survivors = [
        workers.start(producers.log_until_stopped, logger, f"s{i}", logged[i], stop, AFTER_KILL, go)
        for i in range(SURVIVORS)
    ]

    if not reached.wait(TIMEOUT_S):
        pytest.fail(f"the victim did not log {KILL_AFTER} events within {TIMEOUT_S} s")
    victim.kill()
    victim.join(TIMEOUT_S)
    stop.set()
    exit_codes = workers.join(survivors, TIMEOUT_S)
    # The ring is FIFO: once this process's own later event is durable, so is everything the
    # children published before it.
    producers.log_llm_start(logger, "parent")
    logger.flush(TIMEOUT_S)

    assert victim.exitcode == -signal.SIGKILL
    assert list(exit_codes.values()) == [0] * SURVIVORS, exit_codes
    rows = read_rows(log_dir)
    assert rows["event_id"].is_unique
    victim_ids = rows.loc[rows["pid"] == victim.pid, "custom_id"].astype(int)
    assert returned.value >= KILL_AFTER
    assert returned.value <= len(victim_ids) <= returned.value + 1
    assert sorted(victim_ids) == list(range(len(victim_ids)))
    for survivor, count in zip(survivors, logged, strict=True):
        assert (rows["pid"] == survivor.pid).sum() == count.value > AFTER_KILL
