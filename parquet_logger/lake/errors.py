"""The errors of the lake commands, under the package's one base.

ParquetLoggerError
└── LakeError               the table could not be committed, optimized or vacuumed
    └── CommitterBusyError  another committer holds the table (or committed first): rerun
"""

from __future__ import annotations

from parquet_logger.errors import ParquetLoggerError


class LakeError(ParquetLoggerError):
    """A lake command failed; the table is unchanged by this run (Delta commits are atomic)."""


class CommitterBusyError(LakeError):
    """Another committer holds the lock or committed between our snapshot and our commit."""
