"""`python -m tests.lake.killer POINT SOURCE [lake commit options]`: run `lake commit` and
SIGKILL this process at POINT, the way a crash or an OOM kill would stop it:

- listed: right after the listing
- footer: while reading the second file's footer
- before_commit: with every add action built, just before the Delta commit
- after_commit: right after the Delta commit returned
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from parquet_logger.lake import committer
from parquet_logger.lake.cli import main


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after(function: Callable[..., Any], calls: int = 1) -> Callable[..., Any]:
    """`function`, but the process dies once it has been called `calls` times."""
    seen = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        if seen[0] == calls:
            die()
        return function(*args, **kwargs)

    return wrapped


def kill_when_returned(function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        function(*args, **kwargs)
        die()

    return wrapped


# Which function of the committer is wrapped, and how, for each point.
ARMS: dict[str, tuple[str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = {
    "listed": ("list_part_files", kill_when_returned),
    "footer": ("_footer", lambda function: kill_after(function, calls=2)),
    "before_commit": ("_commit_actions", kill_after),
    "after_commit": ("_commit_actions", kill_when_returned),
}


def arm(point: str) -> None:
    if point not in ARMS:
        raise SystemExit(f"unknown point {point!r}; one of {POINTS}")
    name, wrap = ARMS[point]
    setattr(committer, name, wrap(getattr(committer, name)))


POINTS = tuple(ARMS)

if __name__ == "__main__":
    arm(sys.argv[1])
    sys.exit(main(["commit", *sys.argv[2:]]))
