"""The batch configuration objects of langchain-callback-parquet-logger, kept for its users.

`batch_process` accepts these (or the original package's, read by field name) as an
alternative to its keyword arguments: `CONFIG_FIELDS` maps each field onto the keyword (a
field of `BatchOptions` or `JobOptions`) it stands for. They stay mutable, as they were, and
are validated as the options they become.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parquet_logger.batch.job_paths import DEFAULT_PATH_TEMPLATE
from parquet_logger.s3config import S3Config

__all__ = [
    "ColumnConfig",
    "JobConfig",
    "LLMConfig",
    "ProcessingConfig",
    "StorageConfig",
]


@dataclass
class JobConfig:
    """Job metadata: `batch_process(job_category=..., job_subcategory=..., ...)`."""

    category: str = "batch_processing"
    subcategory: str | None = None
    description: str | None = None
    version: str | None = None
    environment: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class StorageConfig:
    """Where logs go: `output_dir`, `path_template`, and an optional `S3Config` (its prefix
    is the base the path template is appended to)."""

    output_dir: str = "./batch_logs"
    path_template: str = DEFAULT_PATH_TEMPLATE
    s3_config: S3Config | None = None


@dataclass
class ProcessingConfig:
    """How rows run and which events are logged."""

    max_concurrency: int = 100
    buffer_size: int = 1000
    show_progress: bool = True
    return_exceptions: bool = True
    return_results: bool = True
    event_types: list[str] | None = None
    partition_on: Any = "date"
    row_timeout: float | None = None


@dataclass
class ColumnConfig:
    """DataFrame column names."""

    prompt: str = "prompt"
    config: str = "config"
    tools: str | None = "tools"
    response_id: str = "response_id"
    custom_id: str = "custom_id"


@dataclass
class LLMConfig:
    """The model `batch_process` creates: `llm_class(**llm_kwargs, model_kwargs=...)`,
    optionally wrapped with `with_structured_output(structured_output)`."""

    llm_class: type
    llm_kwargs: dict[str, Any] | None = None
    model_kwargs: dict[str, Any] | None = None
    structured_output: type | None = None

    def create_llm(self, callbacks: list[Any] | None = None) -> Any:
        """Build the model (constructor callbacks only see the model's own events; prefer
        passing handlers in the run config, as `batch_process` does)."""
        kwargs = dict(self.llm_kwargs or {})
        if self.model_kwargs:
            kwargs["model_kwargs"] = dict(self.model_kwargs)
        if callbacks:
            kwargs["callbacks"] = callbacks
        llm = self.llm_class(**kwargs)
        return llm.with_structured_output(self.structured_output) if self.structured_output else llm

    def to_metadata_dict(self) -> dict[str, Any]:
        """The model's description as stored in `logger_metadata` (before redaction)."""
        schema = self.structured_output
        return {
            "class": self.llm_class.__name__,
            "module": self.llm_class.__module__,
            "llm_kwargs": dict(self.llm_kwargs or {}),
            "model_kwargs": dict(self.model_kwargs or {}),
            "structured_output": schema.__name__ if schema is not None else None,
        }


# batch_process's config-object parameter -> {the object's field: the keyword it stands for}.
CONFIG_FIELDS: dict[str, dict[str, str]] = {
    "job_config": {
        "category": "job_category",
        "subcategory": "job_subcategory",
        "description": "job_description",
        "version": "job_version",
        "environment": "job_environment",
        "metadata": "job_metadata",
    },
    "storage_config": {
        "output_dir": "output_dir",
        "path_template": "path_template",
        "s3_config": "s3_config",
    },
    "processing_config": {
        "max_concurrency": "max_concurrency",
        "buffer_size": "buffer_size",
        "show_progress": "show_progress",
        "return_exceptions": "return_exceptions",
        "return_results": "return_results",
        "event_types": "event_types",
        "partition_on": "partition_on",
        "row_timeout": "row_timeout",
    },
    "column_config": {"prompt": "prompt_col", "config": "config_col", "tools": "tools_col"},
    "llm_config": {
        "llm_class": "llm_class",
        "llm_kwargs": "llm_kwargs",
        "model_kwargs": "model_kwargs",
        "structured_output": "structured_output",
    },
}


def as_s3_config(value: Any) -> S3Config | None:
    """Our S3Config from ours or from the original package's (same field names)."""
    if value is None or isinstance(value, S3Config):
        return value
    if not hasattr(value, "bucket"):
        raise TypeError(f"s3_config must be an S3Config, got {type(value).__name__}")
    names = ("prefix", "on_failure", "retry_attempts", "connect_timeout", "read_timeout")
    fields = {name: getattr(value, name) for name in names if hasattr(value, name)}
    return S3Config(bucket=value.bucket, **fields)
