"""The output reads as one dataset in pandas, pyarrow, DuckDB and Polars, for every layout."""

from __future__ import annotations

from uuid import uuid4

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from langchain_core.outputs import Generation, LLMResult

from parquet_logger import EventType

LAYOUTS = {
    "date": ("date",),
    "event_type": ("event_type",),
    "both": ("date", "event_type"),
    "flat": None,
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_reader_sees_every_row(make_logger, log_dir, layout):
    """pandas, pyarrow.dataset, DuckDB and Polars count the same rows and columns."""
    keys = LAYOUTS[layout]
    logger = make_logger(
        partition_on=list(keys) if keys else None,
        event_types=[EventType.LLM_START, EventType.LLM_END],
    )
    for i in range(50):
        run_id = uuid4()
        tags = [f"logger_custom_id:r{i}"]
        logger.on_llm_start({"name": "m"}, ["p"], run_id=run_id, tags=tags)
        logger.on_llm_end(LLMResult(generations=[[Generation(text="t")]]), run_id=run_id, tags=tags)
    logger.flush(timeout=30)

    files = sorted(log_dir.rglob("*.parquet"))
    assert files, "no part files written"
    depth = {len(f.relative_to(log_dir).parts) - 1 for f in files}
    assert depth == {len(keys) if keys else 0}
    assert all(
        pq.ParquetFile(f).metadata.row_group(0).column(0).compression == "ZSTD" for f in files
    )

    by_pandas = pd.read_parquet(log_dir)
    by_arrow = ds.dataset(log_dir, format="parquet", partitioning="hive").to_table()
    glob = f"{log_dir}/**/*.parquet"
    by_duckdb = (
        duckdb.connect()
        .execute(
            f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{glob}', "
            "hive_partitioning=true)"
        )
        .fetchall()[0]
    )
    by_polars = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert len(by_pandas) == by_arrow.num_rows == len(by_polars) == 100
    assert by_duckdb == (100, 100)
    assert sorted(by_pandas["event_type"].astype(str).unique()) == ["llm_end", "llm_start"]
    assert "payload" in by_polars.columns
    assert "custom_id" in by_polars.columns
    if keys and "date" in keys:
        assert by_pandas["date"].nunique() == 1


def test_schema_is_frozen(make_logger, log_dir):
    """Column names, order and types are the documented ones."""
    logger = make_logger(partition_on=None)
    logger.on_llm_start({"name": "m"}, ["p"], run_id=uuid4())
    logger.flush(timeout=30)
    schema = pq.read_schema(next(log_dir.rglob("*.parquet")))
    assert schema.names == [
        "timestamp",
        "run_id",
        "parent_run_id",
        "custom_id",
        "event_type",
        "logger_metadata",
        "payload",
        "event_id",
        "run_type",
        "name",
        "model",
        "provider",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "latency_ms",
        "error_type",
        "host",
        "pid",
        "schema_version",
        "trace_id",
        "root_run_id",
        "operation",
        "request_model",
        "response_model",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "reasoning_output_tokens",
        "finish_reasons",
        "response_id",
        "temperature",
        "max_tokens",
        "tool_name",
        "time_to_first_token_ms",
        "start_time",
    ]
    assert str(schema.field("timestamp").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("start_time").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("input_tokens").type) == "int64"
    assert str(schema.field("cache_read_input_tokens").type) == "int64"
    assert str(schema.field("finish_reasons").type) == "list<element: string>"
    assert str(schema.field("temperature").type) == "double"
    assert schema.metadata[b"parquet_logger.schema_version"] == b"2"
