"""Where a job's logs go: its local directory and S3 target, resolved once from its options
and the day it starts. Shared by `batch_process`, `Batch` and background retrieval's
discovery (`retrieve_background_responses(storage_config=...)`), so all three agree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from parquet_logger.batch.compat_config import as_s3_config
from parquet_logger.batch.job_options import (
    JOB_BATCH_DEFAULTS,
    JOB_DEFAULTS,
    JobOptions,
    apply_config_objects,
)
from parquet_logger.batch.job_paths import JobNames, local_dir, render, s3_prefix, template_values
from parquet_logger.s3config import S3Config

__all__ = ["S3_BUCKET_ENV", "JobLocation", "config_location", "job_location"]

S3_BUCKET_ENV = "LANGCHAIN_S3_BUCKET"  # honoured as the package users come from did


@dataclass(frozen=True)
class JobLocation:
    """The job's log directory, its S3 target (prefix resolved; None without S3), and the
    template values they were filled in with."""

    log_dir: Path
    s3: S3Config | None
    values: dict[str, str]

    @property
    def s3_uri(self) -> str | None:
        """`s3://bucket/prefix` of the S3 target, or None."""
        return f"s3://{self.s3.bucket}/{self.s3.prefix}" if self.s3 is not None else None


def job_location(job: JobOptions, day: date) -> JobLocation:
    """Resolve `job`'s path template (and S3 prefix) for `day` (UTC).

    Raises:
        TypeError, ValueError: a bad template, S3 setting or s3_config (named).
    """
    names = JobNames(
        category=job.job_category,
        subcategory=job.job_subcategory,
        environment=job.job_environment,
        version=job.job_version,
    )
    values = template_values(names, day)
    segments = render(job.path_template, values, "path_template")
    return JobLocation(
        local_dir(job.output_dir, segments), _s3_target(job, segments, values), values
    )


def _s3_target(job: JobOptions, segments: list[str], values: dict[str, str]) -> S3Config | None:
    """The job's S3Config with its prefix resolved, or None when S3 is not in use."""
    base = as_s3_config(job.s3_config)
    bucket = job.s3_bucket
    if base is not None and bucket is not None:
        raise ValueError("give s3_bucket or s3_config, not both")
    if base is None:
        bucket = bucket or os.environ.get(S3_BUCKET_ENV) or None
        if bucket is None:
            if job.s3_prefix_template is not None:
                raise ValueError("s3_prefix_template needs s3_bucket (or s3_config)")
            return None
        base = S3Config(
            bucket=bucket,
            prefix=job.s3_prefix,
            on_failure=job.s3_on_failure,
            retry_attempts=job.s3_retry_attempts,
        )
    prefix = s3_prefix(base.prefix, job.s3_prefix_template, segments, values)
    return S3Config(**{**base.as_dict(), "prefix": prefix})


def config_location(job_config: Any, storage_config: Any, day: date) -> JobLocation:
    """The location of a job described by the config objects (`JobConfig`, `StorageConfig`,
    ours or the original package's; None for the defaults)."""
    job, _ = apply_config_objects(
        JOB_DEFAULTS,
        JOB_BATCH_DEFAULTS,
        {"job_config": job_config, "storage_config": storage_config},
    )
    return job_location(job, day)
