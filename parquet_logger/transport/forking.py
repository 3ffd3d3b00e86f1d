"""The package's one `os.register_at_fork` hook: what a forked child must redo before it logs.

A forked child has only the thread that called fork. A lock another thread of the parent held
at that moment stays held forever in the child, and a descriptor inherited for `flock` shares
the parent's lock (flock belongs to the open file description, not to the process). So every
module that owns a lock or a flocked descriptor registers how to renew it here: module-level
state with `register(reset)`, objects with `track(obj)` (kept weakly; their
`after_fork_in_child()` runs). Resets run in registration order, then the tracked objects, all
in the child right after fork, while it has a single thread.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("parquet_logger")


class ForkAware(Protocol):
    """An object that renews its own locks and descriptors in a forked child."""

    def after_fork_in_child(self) -> None: ...


# Written at import time and by constructors; read only in a fresh child, which has a single
# thread, so these need no lock of their own (a lock here would itself need renewing).
_resets: list[Callable[[], None]] = []
_tracked: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(reset: Callable[[], None]) -> None:
    """Run `reset()` in every forked child (module-level locks, registries)."""
    _resets.append(reset)


def track(obj: ForkAware) -> None:
    """Call `obj.after_fork_in_child()` in every forked child while `obj` lives."""
    _tracked.add(obj)


def _after_fork_in_child() -> None:
    # One failing reset must not keep the others from running: the child may still log
    # through what the rest renewed.
    for reset in list(_resets):
        try:
            reset()
        except Exception:
            log.exception("parquet-logger: reset after fork failed (%s)", reset)
    for obj in list(_tracked):
        try:
            obj.after_fork_in_child()
        except Exception:
            log.exception("parquet-logger: reset after fork failed (%r)", obj)


os.register_at_fork(after_in_child=_after_fork_in_child)
