"""The writer's move from a removed ring to the ring at its path, and its lock at start."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from parquet_logger_daemon.service import take_writer_lock
from parquet_logger_daemon.succession import QUIET_S, Move, Retiring

from parquet_logger.transport.statedir import open_private


def test_new_records_in_the_removed_ring_keep_the_writer_on_it():
    """A head that moved restarts the quiet period: a producer still puts there."""
    state, move = Retiring(head=100, quiet_since=0.0).decide(200, 100, now=QUIET_S * 10)
    assert move is Move.STAY
    assert state == Retiring(200, QUIET_S * 10)


def test_uncommitted_records_are_written_out_before_the_switch():
    """Quiet but not committed: commit what the removed ring holds, do not leave it yet."""
    retiring = Retiring(head=200, quiet_since=0.0)
    assert retiring.decide(200, 100, now=QUIET_S * 10) == (retiring, Move.WRITE_OUT)


def test_switch_only_after_the_quiet_period():
    """Committed and quiet: stay until QUIET_S has passed, then switch."""
    retiring = Retiring(head=200, quiet_since=5.0)
    assert retiring.decide(200, 200, now=5.0 + QUIET_S / 2)[1] is Move.STAY
    assert retiring.decide(200, 200, now=5.0 + QUIET_S)[1] is Move.SWITCH


def test_writer_lock_waits_out_a_shared_probe_but_not_a_writer(tmp_path: Path):
    """A shared holder (a liveness probe) is waited for up to the patience; an exclusive
    holder (a live writer) makes the start refuse at once."""
    path = tmp_path / "writer.lock"
    holder, starter = open_private(path), open_private(path)
    try:
        fcntl.flock(holder, fcntl.LOCK_SH)
        assert not take_writer_lock(starter, patience_s=0.05)  # the probe never let go
        fcntl.flock(holder, fcntl.LOCK_UN)
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert not take_writer_lock(starter, patience_s=30.0)  # returns at once, not in 30 s
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert take_writer_lock(starter, patience_s=0.0)
    finally:
        os.close(holder)
        os.close(starter)
