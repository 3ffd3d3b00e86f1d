"""One dataset: a Delta Lake table registered over the part files the writers published
(local or on S3), without rewriting them; compaction and clean-up through Delta's own
optimize and vacuum. Needs the `lake` extra (`pip install "parquet-logger[lake]"`).

The names below load on first use, so that `parquet_logger.lake.cli` (wired into the
`parquet-logger` command) imports without deltalake installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from parquet_logger.errors import CommitterBusyError, LakeError

if TYPE_CHECKING:
    from .committer import CommitResult, commit
    from .maintenance import OptimizeResult, optimize, vacuum
    from .source import LakeSource

_HOMES = {
    "CommitResult": "committer",
    "commit": "committer",
    "OptimizeResult": "maintenance",
    "optimize": "maintenance",
    "vacuum": "maintenance",
    "LakeSource": "source",
}

__all__ = [
    "CommitResult",
    "CommitterBusyError",
    "LakeError",
    "LakeSource",
    "OptimizeResult",
    "commit",
    "optimize",
    "vacuum",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
