"""Warnings at a limited rate, per kind: a burst of one problem cannot hide another.

Each kind (a callback failure of one event type, a full ring, a writer restart...) logs at
most once per period; the next warning of that kind after the period says how many were
suppressed meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from parquet_logger.transport import forking

DEFAULT_PERIOD_S = 60.0
MAX_KINDS = 256  # kinds are few (event types, causes); this bounds a caller that makes many


@dataclass
class _Kind:
    last_logged: float
    suppressed: int = 0


class WarningLimiter:
    """Log a warning of a kind at most once per `period_s`; count the ones it holds back.

    Args:
        logger: where the warnings go.
        period_s: the shortest time between two warnings of one kind.
        clock: monotonic seconds (a test passes its own).
    """

    def __init__(
        self,
        logger: logging.Logger,
        period_s: float = DEFAULT_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._period_s = period_s
        self._clock = clock
        self._kinds: dict[Hashable, _Kind] = {}
        # Callbacks of many threads may warn at once; held only for a dict look-up.
        self._lock = threading.Lock()
        forking.track(self)

    def warn(self, kind: Hashable, message: str, *args: object) -> bool:
        """Log `message % args` at WARNING unless a `kind` warning was logged within the
        period; True when it was logged."""
        now = self._clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen.last_logged < self._period_s:
                seen.suppressed += 1
                return False
            suppressed = seen.suppressed if seen is not None else 0
            if seen is None and len(self._kinds) >= MAX_KINDS:
                self._forget_quiet_kinds(now)
            self._kinds[kind] = _Kind(last_logged=now)
        if suppressed:
            message += " (%d more like this since the previous warning, not logged)"
            args = (*args, suppressed)
        self._logger.warning(message, *args)
        return True

    def _forget_quiet_kinds(self, now: float) -> None:
        quiet = [k for k, v in self._kinds.items() if now - v.last_logged >= self._period_s]
        for kind in quiet or list(self._kinds)[: MAX_KINDS // 2]:
            del self._kinds[kind]

    def after_fork_in_child(self) -> None:
        """A thread of the parent may have held the lock at fork: take a fresh one."""
        self._lock = threading.Lock()
