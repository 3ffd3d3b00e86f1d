"""parquet-logger: every LangChain event of a program, in Parquet, without slowing it down.

    from parquet_logger import ParquetLogger, with_tags
    logger = ParquetLogger("./logs")
    llm.invoke("What is 2+2?", config=with_tags(custom_id="q1", config={"callbacks": [logger]}))

The logger, the batch helpers and their config objects are imported on first use, so that a
program that only logs does not load pandas, tenacity or tqdm, and the writer process (which
imports only the transport) does not load LangChain.
"""

import importlib
from typing import TYPE_CHECKING, Any

from parquet_logger.errors import (
    EventsLostError,
    ParquetLoggerError,
    RetrievalAbortedError,
    RingError,
    RowTimeoutError,
    S3UploadError,
    UnguardedMainError,
    WorkerCrashedError,
    WorkerLostError,
)
from parquet_logger.s3config import S3Config

if TYPE_CHECKING:
    from parquet_logger.capture.events import EventType
    from parquet_logger.capture.handler import ParquetLogger
    from parquet_logger.capture.tagging import with_tags

__version__ = "0.1.0"

# The logger itself is imported on first use too: the writer process imports this package
# for its transport and errors only, and langchain_core would add ~0.2 s to every writer
# (re)start, the time a log directory is without a writer after one is killed.
_LAZY = {
    "EventType": "parquet_logger.capture.events",
    "ParquetLogger": "parquet_logger.capture.handler",
    "with_tags": "parquet_logger.capture.tagging",
    "batch_run": "parquet_logger.batch.run",
    "Batch": "parquet_logger.batch.facade",
    "BatchOutcome": "parquet_logger.batch.facade",
    "RetrievalConfig": "parquet_logger.batch.compat_config",
    "batch_process": "parquet_logger.batch.job",
    "JobConfig": "parquet_logger.batch.compat_config",
    "StorageConfig": "parquet_logger.batch.compat_config",
    "ProcessingConfig": "parquet_logger.batch.compat_config",
    "ColumnConfig": "parquet_logger.batch.compat_config",
    "LLMConfig": "parquet_logger.batch.compat_config",
    "retrieve_background_responses": "parquet_logger.retrieval.api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'parquet_logger' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Batch",
    "BatchOutcome",
    "ColumnConfig",
    "EventType",
    "EventsLostError",
    "JobConfig",
    "LLMConfig",
    "ParquetLogger",
    "ParquetLoggerError",
    "ProcessingConfig",
    "RetrievalAbortedError",
    "RetrievalConfig",
    "RingError",
    "RowTimeoutError",
    "S3Config",
    "S3UploadError",
    "StorageConfig",
    "UnguardedMainError",
    "WorkerCrashedError",
    "WorkerLostError",
    "__version__",
    "batch_process",
    "batch_run",
    "retrieve_background_responses",
    "with_tags",
]
