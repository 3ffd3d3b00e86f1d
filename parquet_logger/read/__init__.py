"""Read the logs back: events, runs (one row per LLM call, chain, tool...), traces, cost.

from parquet_logger.read import events, runs, trace

runs("./logs", since="2026-12-01")  # or "s3://bucket/prefix"
"""

from parquet_logger.read.cost import ModelPrice, PriceTable
from parquet_logger.read.events import events
from parquet_logger.read.runs import RUN_COLUMNS, runs
from parquet_logger.read.schema import dataset_schema
from parquet_logger.read.source import Source, open_source
from parquet_logger.read.trace import Trace, trace

__all__ = [
    "RUN_COLUMNS",
    "ModelPrice",
    "PriceTable",
    "Source",
    "Trace",
    "dataset_schema",
    "events",
    "open_source",
    "runs",
    "trace",
]
