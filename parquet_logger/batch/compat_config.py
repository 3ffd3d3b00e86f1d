"""The configuration objects of langchain-callback-parquet-logger (3.0.x and 4.0.0), kept for
its users.

`batch_process` accepts these (or the original package's, read by field name) as an
alternative to its keyword arguments: `CONFIG_FIELDS` maps each field onto the keyword (a
field of `BatchOptions` or `JobOptions`) it stands for. They stay mutable, as they were, and
are validated as the options they become.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from parquet_logger.batch.job_paths import DEFAULT_PATH_TEMPLATE
from parquet_logger.s3config import S3Config

__all__ = [
    "ColumnConfig",
    "JobConfig",
    "LLMConfig",
    "ProcessingConfig",
    "RetrievalConfig",
    "StorageConfig",
]

RETRIEVAL_SOURCES = ("memory", "local", "s3")


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
class RetrievalConfig:
    """How background responses are retrieved (4.0.0's options of
    `retrieve_background_responses` and `Batch.retrieve`).

    `source` says where the pending responses are found when no DataFrame is given:
    "memory" (the ids `Batch.run` captured; nothing else is read), "local" (the job's log
    directory) or "s3" (the job's S3 prefix). `retrieve_background_responses(storage_config=
    ...)` reads the log directory for "memory" too, as 4.0.0 did. `poll_interval` and
    `max_poll_attempts` become a time budget per response: `max_wait_s = poll_interval *
    max_poll_attempts`.
    """

    source: Literal["memory", "local", "s3"] = "memory"
    poll_interval: float = 30.0
    max_poll_attempts: int = 40
    batch_size: int = 50
    timeout: float = 30.0
    max_retries: int = 3
    show_progress: bool = True
    return_results: bool = True
    checkpoint_file: str | None = None

    def __post_init__(self) -> None:
        if self.source not in RETRIEVAL_SOURCES:
            raise ValueError(
                f"source must be one of {', '.join(map(repr, RETRIEVAL_SOURCES))}, "
                f"got {self.source!r}"
            )


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
