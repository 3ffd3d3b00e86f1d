"""`JobOptions`: what `batch_process` adds to `BatchOptions` (the job, where its logs go, its
logger, the model it creates), and how the seed's config objects fill both in.

`JOB_DEFAULTS` and `JOB_BATCH_DEFAULTS` are `batch_process`'s keyword defaults (its signature
reads them from here); a config object's field counts as given twice only when the keyword
was also moved off its default to a different value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from parquet_logger.batch.compat_config import CONFIG_FIELDS
from parquet_logger.batch.job_paths import DEFAULT_PATH_TEMPLATE, DEFAULT_S3_PREFIX
from parquet_logger.batch.options import BatchOptions
from parquet_logger.capture.events import EventType
from parquet_logger.s3config import s3_default
from parquet_logger.validation import require_str

__all__ = ["JOB_BATCH_DEFAULTS", "JOB_DEFAULTS", "JobOptions", "apply_config_objects"]


@dataclass(frozen=True)
class JobOptions:
    """The keywords of `batch_process` beyond `batch_run`'s (see its docstring for each).

    Values are checked where they are used (templates, `S3Config`, `ParquetLogger`), except
    `job_category`, which must be a non-empty string.
    """

    job_category: str = "batch_processing"
    job_subcategory: str | None = None
    job_version: str | None = None
    job_environment: str | None = None
    job_description: str | None = None
    job_metadata: Mapping[str, Any] | None = None
    output_dir: str | os.PathLike[str] = "./batch_logs"
    path_template: str = DEFAULT_PATH_TEMPLATE
    s3_bucket: str | None = None
    s3_prefix: str = DEFAULT_S3_PREFIX
    s3_prefix_template: str | None = None
    s3_on_failure: str = s3_default("on_failure")
    s3_retry_attempts: int = s3_default("retry_attempts")
    s3_config: Any = None  # our S3Config, or the seed package's (read by field name)
    buffer_size: int | None = 1000
    partition_on: Any = "date"
    event_types: Iterable[str | EventType] | None = None
    llm_class: type | None = None
    llm_kwargs: Mapping[str, Any] | None = None
    model_kwargs: Mapping[str, Any] | None = None
    structured_output: type | None = None

    def __post_init__(self) -> None:
        require_str("job_category", self.job_category, allow_empty=False)


JOB_DEFAULTS = JobOptions()
JOB_BATCH_DEFAULTS = BatchOptions(max_concurrency=100)  # as the package users come from
_BATCH_FIELDS = frozenset(f.name for f in fields(BatchOptions))


def apply_config_objects(
    job: JobOptions, batch: BatchOptions, objects: Mapping[str, Any]
) -> tuple[JobOptions, BatchOptions]:
    """The options with the config objects' fields filled in (the objects are not modified).

    Args:
        job, batch: the options built from `batch_process`'s keywords.
        objects: `batch_process`'s config-object parameters by name (`job_config`, ...);
            None values are skipped.

    Raises:
        TypeError: a config object lacks a field it should have.
        ValueError: a setting given both as a keyword and in a config object, differently.
    """
    job_changes: dict[str, Any] = {}
    batch_changes: dict[str, Any] = {}
    for param, config in objects.items():
        if config is None:
            continue
        for field, keyword in CONFIG_FIELDS[param].items():
            if not hasattr(config, field):
                raise TypeError(f"{param}: {type(config).__name__} has no field {field!r}")
            value = getattr(config, field)
            in_batch = keyword in _BATCH_FIELDS
            given = getattr(batch if in_batch else job, keyword)
            default = getattr(JOB_BATCH_DEFAULTS if in_batch else JOB_DEFAULTS, keyword)
            if given != default and given != value:
                raise ValueError(
                    f"{keyword} is given both as a keyword ({given!r}) and in "
                    f"{param} ({value!r}); give it once"
                )
            (batch_changes if in_batch else job_changes)[keyword] = value
    return replace(job, **job_changes), replace(batch, **batch_changes)
