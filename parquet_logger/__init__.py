"""parquet-logger: every LangChain event of a program, in Parquet, without slowing it down.

    from parquet_logger import ParquetLogger, with_tags
    logger = ParquetLogger("./logs")
    llm.invoke("What is 2+2?", config=with_tags(custom_id="q1", config={"callbacks": [logger]}))

The batch helpers and their config objects are imported on first use, so that a program that
only logs does not load pandas, tenacity or tqdm.
"""

import importlib
from typing import Any

from parquet_logger.errors import ParquetLoggerError, S3UploadError
from parquet_logger.events import EventType
from parquet_logger.handler import ParquetLogger
from parquet_logger.s3config import S3Config
from parquet_logger.tagging import with_tags

__version__ = "0.1.0"

_LAZY = {
    "batch_run": "parquet_logger.batch",
    "RowTimeoutError": "parquet_logger.batch",
    "WorkerCrashedError": "parquet_logger.batch_workers",
    "batch_process": "parquet_logger.jobs",
    "JobConfig": "parquet_logger.batch_config",
    "StorageConfig": "parquet_logger.batch_config",
    "ProcessingConfig": "parquet_logger.batch_config",
    "ColumnConfig": "parquet_logger.batch_config",
    "LLMConfig": "parquet_logger.batch_config",
    "retrieve_background_responses": "parquet_logger.retrieval",
    "RetrievalAbortedError": "parquet_logger.retrieval",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'parquet_logger' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ColumnConfig",
    "EventType",
    "JobConfig",
    "LLMConfig",
    "ParquetLogger",
    "ParquetLoggerError",
    "ProcessingConfig",
    "RetrievalAbortedError",
    "RowTimeoutError",
    "S3Config",
    "S3UploadError",
    "StorageConfig",
    "WorkerCrashedError",
    "__version__",
    "batch_process",
    "batch_run",
    "retrieve_background_responses",
    "with_tags",
]
