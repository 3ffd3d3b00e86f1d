"""Where and how the writer uploads finished Parquet files to S3 (or an S3-compatible store)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from parquet_logger.validation import (
    require_bool,
    require_choice,
    require_int,
    require_seconds,
    require_str,
)

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
        require_str("s3 bucket", self.bucket, allow_empty=False)
        require_str("s3 prefix", self.prefix)
        prefix = self.prefix.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        object.__setattr__(self, "prefix", prefix)
        require_choice("s3 on_failure", self.on_failure, ON_FAILURE)
        require_int("s3 retry_attempts", self.retry_attempts)
        for name in ("connect_timeout", "read_timeout", "deadline_s"):
            require_seconds(f"s3 {name}", getattr(self, name))
        require_str("s3 endpoint_url", self.endpoint_url, allow_empty=False, optional=True)
        require_str("s3 region", self.region, allow_empty=False, optional=True)
        require_bool("s3 keep_local", self.keep_local)

    @property
    def target(self) -> str:
        """`s3://bucket/prefix` (plus the endpoint when not AWS): what a writer uploads to."""
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def s3_default(name: str) -> Any:
    """The default of S3Config field `name` (S3Config has a required bucket, so no instance),
    for the signatures that take S3 settings one by one."""
    return next(f.default for f in fields(S3Config) if f.name == name)
