"""Where a Delta table over a log directory lives: a local directory or an `s3://` prefix,
with the storage options deltalake needs to reach it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from parquet_logger.validation import require_str

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class LakeSource:
    """A log directory (local path or `s3://bucket/prefix`) that holds the table.

    Args:
        location: a local directory, or `s3://bucket/prefix` where the writers upload.
        endpoint_url: an S3-compatible endpoint (None: AWS); S3 only.
        region: the S3 region (None: deltalake's default chain, from `AWS_REGION` etc.).

    Credentials come from the environment (`AWS_ACCESS_KEY_ID`, ..., or the instance role),
    as for the writer's uploads.
    """

    location: str
    endpoint_url: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        require_str("source", self.location, allow_empty=False)
        require_str("s3 endpoint_url", self.endpoint_url, allow_empty=False, optional=True)
        require_str("s3 region", self.region, allow_empty=False, optional=True)
        if self.is_s3:
            if not self.bucket:
                raise ValueError(f"source: no bucket in {self.location!r}; expected s3://b/prefix")
            object.__setattr__(self, "location", self.location.rstrip("/"))
        elif self.endpoint_url is not None or self.region is not None:
            raise ValueError("s3 endpoint_url and region apply to an s3:// source only")
        else:
            object.__setattr__(self, "location", os.path.abspath(self.location))

    @property
    def is_s3(self) -> bool:
        return self.location.startswith(S3_SCHEME)

    @property
    def bucket(self) -> str:
        return self.bucket_and_prefix.split("/", 1)[0]

    @property
    def bucket_and_prefix(self) -> str:
        """`bucket/prefix` of an S3 source (pyarrow's S3 path)."""
        return self.location[len(S3_SCHEME) :]

    @property
    def table_uri(self) -> str:
        """The table's URI as deltalake takes it (the `_delta_log/` goes beneath it)."""
        return self.location

    def storage_options(self) -> dict[str, str] | None:
        """deltalake's storage options: endpoint and region for S3, None for a local path.

        Plain HTTP is allowed only when the endpoint says `http://` (a local test server).
        Commits on S3 use conditional PUT (If-None-Match), deltalake's default since 1.0:
        no locking provider and no `AWS_S3_ALLOW_UNSAFE_RENAME`.
        """
        if not self.is_s3:
            return None
        options: dict[str, str] = {}
        if self.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        if self.region:
            options["AWS_REGION"] = self.region
        return options

    def describe(self) -> str:
        return f"{self.location} at {self.endpoint_url}" if self.endpoint_url else self.location
