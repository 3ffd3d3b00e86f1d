"""Where and how the writer uploads finished Parquet files to S3 (or an S3-compatible store)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

ON_FAILURE = ("error", "continue")


@dataclass(frozen=True)
class S3Config:
    """S3 upload settings (field names compatible with langchain-callback-parquet-logger).

    Args:
        bucket: the bucket.
        prefix: key prefix; a file's key is prefix + its path relative to the log directory.
        on_failure: "error": the first flush()/close() after a definitive failure raises
            S3UploadError (and the process exits non-zero); "continue": warn, keep the file
            in the spool and retry it later.
        retry_attempts: attempts per upload, the first included.
        connect_timeout: seconds to connect.
        read_timeout: seconds to wait for a response.
        deadline_s: the longest one upload may take, retries and back-off included.
        endpoint_url: an S3-compatible endpoint (None: AWS).
        region: the region (None: boto3's default chain).
        keep_local: keep local copies after a confirmed upload.
    """

    bucket: str
    prefix: str = "langchain-logs/"
    on_failure: str = "error"
    retry_attempts: int = 3
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline_s: float = 300.0
    endpoint_url: str | None = None
    region: str | None = None
    keep_local: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.bucket, str) or not self.bucket.strip():
            raise ValueError(f"s3 bucket must be a non-empty string, got {self.bucket!r}")
        if not isinstance(self.prefix, str):
            raise TypeError(f"s3 prefix must be a string, got {type(self.prefix).__name__}")
        prefix = self.prefix.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        object.__setattr__(self, "prefix", prefix)
        if self.on_failure not in ON_FAILURE:
            raise ValueError(f"s3 on_failure must be one of {ON_FAILURE}, got {self.on_failure!r}")
        if (
            isinstance(self.retry_attempts, bool)
            or not isinstance(self.retry_attempts, int)
            or self.retry_attempts < 1
        ):
            raise ValueError(
                f"s3 retry_attempts must be an integer >= 1, got {self.retry_attempts!r}"
            )
        for name in ("connect_timeout", "read_timeout", "deadline_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"s3 {name} must be a number of seconds, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"s3 {name} must be a positive number of seconds, got {value!r}")

    @property
    def target(self) -> str:
        """`s3://bucket/prefix` (plus the endpoint when not AWS): what a writer uploads to."""
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
