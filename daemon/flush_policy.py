"""When the writer writes: a pure decision from a snapshot of the loop's state.

`FlushPolicy.decide(snapshot, now)` reads a frozen `Snapshot` and returns a `Decision`; it
changes nothing. The loop (see `engine.Engine`) takes the snapshot, acts on the decision and
keeps `Decision.requests` for its next pass.

A flush writes every buffered partition's part file and commits the ring. It is due when:
- a producer asked for one (`flush()` bumps the ring's flush-request counter) or SIGHUP
  arrived: everything published until then is written, over as many files as it takes;
  requests are coalesced for `FLUSH_COALESCE_S` while other producers are still publishing,
  so that the workers of a pool finishing together share files instead of a file each;
- the oldest record not yet written has waited `flush_interval_s`;
- `max_file_bytes` of records are buffered (one file stays near that size), or
  `buffer_size` records;
- half the ring is read but not committed: space is freed only by commits, so the writer
  writes before producers run out of room.
After a failed write nothing is written until the retry time (`write_blocked_until`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

FLUSH_COALESCE_S = 0.05


class Action(Enum):
    STOP = "stop"  # a stop signal: write everything, then exit
    FLUSH = "flush"  # finish every part file and commit the ring
    SEAL = "seal"  # no flush due: write full chunks as row groups ahead of the next flush
    WAIT = "wait"  # a write failed a moment ago: write nothing until its retry time


@dataclass(frozen=True)
class FlushRequests:
    """What the loop remembers of flush requests between passes."""

    # The ring's request counter when last looked at; None: not looked at yet, so a
    # request made before this writer started is honoured at once.
    seen: int | None = None
    target: int = 0  # ring position that asked-for flushes want committed
    not_before: float = 0.0  # requests are coalesced until then (monotonic seconds)


@dataclass(frozen=True)
class Snapshot:
    """The loop's state at one pass (positions are ring byte offsets; times monotonic)."""

    head: int  # published up to here
    read: int  # read into the buffers up to here
    committed: int  # in durable files up to here
    ring_capacity: int
    buffered_bytes: int  # record bytes read since the last flush
    buffered_rows: int
    oldest_unwritten_at: float | None  # when the oldest record not yet written was read
    flush_requests: int  # the ring's request counter now
    requests: FlushRequests  # remembered from the last pass
    hup: bool  # SIGHUP arrived since the last pass
    stopping: bool  # SIGTERM/SIGINT arrived
    quiet: bool  # the last pass over the ring found nothing new
    write_blocked_until: float  # after a failed write: the retry time


@dataclass(frozen=True)
class Decision:
    action: Action
    requests: FlushRequests  # for the next snapshot


@dataclass(frozen=True)
class FlushPolicy:
    """The writer's flush thresholds (from its configuration)."""

    flush_interval_s: float
    max_file_bytes: int
    buffer_size: int | None = None

    def decide(self, snap: Snapshot, now: float) -> Decision:
        """What the loop does on this pass; pure."""
        if snap.stopping:
            return Decision(Action.STOP, snap.requests)
        requests = _note_requests(snap, now)
        if now < snap.write_blocked_until:
            return Decision(Action.WAIT, requests)
        due = self._flush_due(snap, requests, now)
        return Decision(Action.FLUSH if due else Action.SEAL, requests)

    def _flush_due(self, snap: Snapshot, requests: FlushRequests, now: float) -> bool:
        if snap.read == snap.committed:
            return False  # nothing read since the last commit
        if snap.committed < requests.target:
            if snap.buffered_bytes >= self.max_file_bytes:
                return True  # a full file is written whatever was asked
            # Not before everything asked for is read: a file cut while the writer is still
            # reading would split one request's records over two files (`quiet` is the last
            # pass's, so it can be true while the records of the request arrive).
            if snap.read < requests.target:
                return False
            # Coalesce only while other producers are still publishing: a lone process that
            # flushes (and waits) leaves the ring quiet, and is served at once.
            return snap.quiet or now >= requests.not_before
        if snap.buffered_rows == 0:
            return True  # only corrupt frames were read: just commit past them
        oldest = snap.oldest_unwritten_at if snap.oldest_unwritten_at is not None else now
        return (
            now - oldest >= self.flush_interval_s
            or snap.buffered_bytes >= self.max_file_bytes
            or (self.buffer_size is not None and snap.buffered_rows >= self.buffer_size)
            or (snap.read - snap.committed) * 2 >= snap.ring_capacity
        )


def _note_requests(snap: Snapshot, now: float) -> FlushRequests:
    """The remembered requests, updated with a new request or SIGHUP: the target becomes
    everything published until now."""
    old = snap.requests
    if old.seen is None and snap.flush_requests == 0 and not snap.hup:
        # A ring nobody ever asked to flush: what a starting writer finds there waits for
        # the interval like anything else (else every writer start would cut a file).
        return FlushRequests(seen=0)
    if snap.flush_requests == old.seen and not snap.hup:
        return old
    not_before = old.not_before
    if old.target <= snap.committed:
        # No flush under way: wait a moment for the other producers of a pool.
        not_before = now + FLUSH_COALESCE_S
    return FlushRequests(snap.flush_requests, max(old.target, snap.head), not_before)
