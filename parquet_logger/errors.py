"""The exceptions parquet-logger raises to its users.

ParquetLoggerError
└── S3UploadError       a finished file could not be uploaded (on_failure="error")
"""

from __future__ import annotations


class ParquetLoggerError(Exception):
    """Base of parquet-logger's own errors."""


class S3UploadError(ParquetLoggerError):
    """A finished Parquet file could not be uploaded to S3; the file stays in the spool."""

    def __init__(self, bucket: str, key: str, cause: str) -> None:
        super().__init__(f"upload of s3://{bucket}/{key} failed: {cause}")
        self.bucket = bucket
        self.key = key
        self.cause = cause
