"""The writer's flush policy: every trigger, decided from a snapshot in one process."""

from __future__ import annotations

from dataclasses import replace

from parquet_logger_daemon.flush_policy import (
    FLUSH_COALESCE_S,
    Action,
    FlushPolicy,
    FlushRequests,
    Snapshot,
)

from parquet_logger.transport.writer_config import WRITER_DEFAULTS

POLICY = FlushPolicy(flush_interval_s=1.0, max_file_bytes=10_000, buffer_size=None)
NOW = 100.0

# Ten records (1000 bytes) read a moment ago, nothing committed, no request seen yet but the
# ring's counter already looked at: no trigger fires.
IDLE = Snapshot(
    head=1000,
    read=1000,
    committed=0,
    ring_capacity=1 << 20,
    buffered_bytes=1000,
    buffered_rows=10,
    oldest_unwritten_at=NOW - 0.1,
    flush_requests=0,
    requests=FlushRequests(seen=0),
    hup=False,
    stopping=False,
    quiet=False,
    write_blocked_until=0.0,
)


def decide(snap: Snapshot, now: float = NOW, policy: FlushPolicy = POLICY) -> Action:
    return policy.decide(snap, now).action


def test_no_trigger_seals_instead_of_flushing() -> None:
    """Young, small buffers and no request: no flush, but full chunks may be written ahead."""
    assert decide(IDLE) is Action.SEAL


def test_interval_counts_from_the_oldest_unwritten_record() -> None:
    """The interval flush fires once the oldest record not yet written has waited long enough."""
    assert decide(replace(IDLE, oldest_unwritten_at=NOW - 0.99)) is Action.SEAL
    assert decide(replace(IDLE, oldest_unwritten_at=NOW - 1.0)) is Action.FLUSH


def test_default_interval_holds_a_trickle_for_a_minute() -> None:
    """With the default settings a trickle is published once a minute, not every second."""
    default = FlushPolicy(WRITER_DEFAULTS.flush_interval_s, WRITER_DEFAULTS.max_file_bytes)
    assert WRITER_DEFAULTS.flush_interval_s == 60.0
    assert decide(replace(IDLE, oldest_unwritten_at=NOW - 59.9), policy=default) is Action.SEAL
    assert decide(replace(IDLE, oldest_unwritten_at=NOW - 60.0), policy=default) is Action.FLUSH


def test_max_file_bytes_flushes() -> None:
    """max_file_bytes of buffered records make a file at once."""
    assert decide(replace(IDLE, buffered_bytes=9_999)) is Action.SEAL
    assert decide(replace(IDLE, buffered_bytes=10_000)) is Action.FLUSH


def test_buffer_size_flushes_only_when_set() -> None:
    """buffer_size records make a file when the setting is given, and never when it is not."""
    many = replace(IDLE, buffered_rows=500)
    assert decide(many) is Action.SEAL
    assert decide(many, policy=replace(POLICY, buffer_size=500)) is Action.FLUSH
    assert decide(many, policy=replace(POLICY, buffer_size=501)) is Action.SEAL


def test_half_the_ring_read_but_uncommitted_flushes() -> None:
    """Space is freed only by commits: half the ring read and not committed makes a flush."""
    half = replace(IDLE, head=5000, read=5000, ring_capacity=10_000)
    assert decide(replace(half, read=4992)) is Action.SEAL
    assert decide(half) is Action.FLUSH


def test_nothing_read_since_the_commit_never_flushes() -> None:
    """With everything read already committed, no trigger makes an empty flush."""
    done = replace(IDLE, committed=1000, buffered_rows=0, buffered_bytes=0, flush_requests=5)
    assert decide(replace(done, oldest_unwritten_at=NOW - 60)) is Action.SEAL
    assert decide(done) is Action.SEAL


def test_only_corrupt_frames_read_commits_past_them() -> None:
    """Bytes read that held no record (corrupt frames) are committed at once."""
    assert decide(replace(IDLE, buffered_rows=0, buffered_bytes=0)) is Action.FLUSH


def test_a_request_is_coalesced_while_producers_still_publish() -> None:
    """A flush request waits FLUSH_COALESCE_S for other producers, unless the ring is quiet."""
    asked = replace(IDLE, flush_requests=1)
    first = POLICY.decide(asked, NOW)
    assert first.action is Action.SEAL
    assert first.requests == FlushRequests(seen=1, target=1000, not_before=NOW + FLUSH_COALESCE_S)
    later = replace(asked, requests=first.requests)
    assert decide(later, NOW + FLUSH_COALESCE_S / 2) is Action.SEAL
    assert decide(later, NOW + FLUSH_COALESCE_S) is Action.FLUSH
    assert decide(replace(later, quiet=True), NOW + 0.001) is Action.FLUSH
    assert decide(replace(later, buffered_bytes=10_000), NOW + 0.001) is Action.FLUSH


def test_an_asked_for_flush_waits_until_everything_asked_for_is_read() -> None:
    """Past the coalescing moment a busy writer that has read only part of what was asked
    for keeps reading: one request's records go to one file, not two."""
    asked = FlushRequests(seen=1, target=1000, not_before=NOW - 0.01)
    reading = replace(IDLE, read=600, buffered_bytes=600, flush_requests=1, requests=asked)
    assert decide(reading) is Action.SEAL
    # The quiet flag is the last pass's: it does not mean this request's records are read.
    assert decide(replace(reading, quiet=True)) is Action.SEAL
    assert decide(replace(reading, read=1000, buffered_bytes=1000)) is Action.FLUSH
    assert decide(replace(reading, buffered_bytes=10_000)) is Action.FLUSH  # a file is full


def test_requests_during_a_flush_extend_its_target_without_a_new_wait() -> None:
    """A request while an asked-for flush is under way moves the target on, keeping the
    deadline: requests coalesce instead of queueing."""
    under_way = FlushRequests(seen=1, target=1000, not_before=NOW - 0.01)
    snap = replace(IDLE, head=3000, read=3000, flush_requests=2, requests=under_way)
    decision = POLICY.decide(snap, NOW)
    assert decision.requests == FlushRequests(seen=2, target=3000, not_before=NOW - 0.01)
    assert decision.action is Action.FLUSH


def test_a_request_made_before_the_writer_started_is_honoured() -> None:
    """The first look at the ring's request counter counts as a request."""
    fresh = replace(IDLE, flush_requests=7, requests=FlushRequests())
    decision = POLICY.decide(fresh, NOW)
    assert decision.requests.target == 1000
    assert decide(replace(fresh, requests=decision.requests, quiet=True)) is Action.FLUSH


def test_a_ring_never_asked_to_flush_waits_for_the_interval() -> None:
    """A starting writer that finds records but a request counter of 0 does not flush."""
    fresh = replace(IDLE, flush_requests=0, requests=FlushRequests(), quiet=True)
    decision = POLICY.decide(fresh, NOW)
    assert decision.requests == FlushRequests(seen=0)
    assert decision.action is Action.SEAL


def test_sighup_asks_for_a_flush_like_a_request() -> None:
    """SIGHUP sets the target to everything published, as a producer's request would."""
    decision = POLICY.decide(replace(IDLE, hup=True, quiet=True), NOW)
    assert decision.requests.target == 1000
    assert decision.action is Action.FLUSH


def test_stopping_wins_and_leaves_requests_alone() -> None:
    """A stop signal stops, whatever else is due, and notes no request."""
    snap = replace(IDLE, stopping=True, flush_requests=3, buffered_bytes=10_000)
    decision = POLICY.decide(snap, NOW)
    assert decision.action is Action.STOP
    assert decision.requests == IDLE.requests


def test_write_back_off_blocks_every_write() -> None:
    """After a failed write nothing is written until the retry time, however full the
    buffers."""
    snap = replace(IDLE, write_blocked_until=NOW + 0.5, buffered_bytes=10_000)
    assert decide(snap) is Action.WAIT
    assert decide(snap, NOW + 0.5) is Action.FLUSH


def test_a_request_during_the_back_off_is_remembered() -> None:
    """A flush request made while writes are held is noted, and served after the back-off."""
    snap = replace(IDLE, write_blocked_until=NOW + 0.5, flush_requests=1)
    decision = POLICY.decide(snap, NOW)
    assert decision.action is Action.WAIT
    assert decision.requests.target == 1000
    assert decide(replace(snap, requests=decision.requests), NOW + 0.5) is Action.FLUSH


def test_deciding_twice_gives_the_same_decision() -> None:
    """decide keeps no state of its own: the same snapshot and time decide the same."""
    snap = replace(IDLE, flush_requests=1)
    assert POLICY.decide(snap, NOW) == POLICY.decide(snap, NOW)
