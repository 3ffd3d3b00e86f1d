"""The writer supervisor's restart decision: replace a long-lived writer at once, back off
from one that keeps dying on start."""

from __future__ import annotations

from parquet_logger.transport.supervisor import (
    LONG_LIFE_S,
    MAX_BACKOFF_S,
    Restart,
    decide_restart,
)


def test_a_writer_that_ran_a_while_is_replaced_at_once() -> None:
    """However many failures came before, a death after a long life restarts without delay."""
    assert decide_restart(7, LONG_LIFE_S + 1) == Restart(failures=1, delay_s=0.0)


def test_a_writer_dying_on_start_backs_off_exponentially_up_to_the_cap() -> None:
    """Successive deaths on start wait 0, 2, 4, 8, 16, 30, 30 s."""
    failures, delays = 0, []
    for _ in range(7):
        restart = decide_restart(failures, lived_s=0.1)
        failures = restart.failures
        delays.append(restart.delay_s)
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0, MAX_BACKOFF_S, MAX_BACKOFF_S]
