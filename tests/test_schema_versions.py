"""A directory holding files of schema version 1 next to version 2 reads as one dataset in
pandas, pyarrow, DuckDB and through `parquet_logger.read`; compaction rewrites the old files
in today's schema, every row once."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from langchain_core.runnables import RunnableLambda

from parquet_logger import ParquetLogger
from parquet_logger.columns import COLUMN_NAMES, SCHEMA_1_COLUMN_NAMES
from parquet_logger.read import dataset_schema, events, runs
from parquet_logger.transport.statedir import STATE_FOLDER
from tests.genai_models import RecordedChatModel, provider_responses
from tests.schema_v1 import rewrite_as_version_1
from tests.support import stop_writer
from tests.test_compaction import compact

SHAPES = provider_responses()
EVENTS = ["chat_model_start", "llm_end", "chain_start", "chain_end"]
CALLS = 3  # calls per version of a sequence (a lambda, then a chat model): 3 runs, 6 events
PER_VERSION = 6 * CALLS


def log_calls(logger: ParquetLogger, tag: str) -> None:
    model = RecordedChatModel.of(SHAPES["bedrock_converse"])
    chain = RunnableLambda(lambda q: q) | model
    for i in range(CALLS):
        chain.invoke(f"q{i}", config={"callbacks": [logger], "tags": [f"logger_custom_id:{tag}"]})
    logger.flush(timeout=30)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log directory (no writer, no state) of version-1 files (custom id "v1") sorted first,
    then version-2 files (custom id "v2")."""
    log_dir = tmp_path_factory.mktemp("versions") / "logs"
    logger = ParquetLogger(log_dir, event_types=EVENTS, flush_interval_s=3600)
    try:
        log_calls(logger, "v1")
        for path in sorted(log_dir.rglob("part-*.parquet")):
            rewrite_as_version_1(path)
        log_calls(logger, "v2")
    finally:
        logger.close(timeout=30)
    stop_writer(log_dir)
    shutil.rmtree(log_dir / STATE_FOLDER)
    files = sorted(log_dir.rglob("part-*.parquet"))
    versions = [pq.read_schema(f).metadata[b"parquet_logger.schema_version"] for f in files]
    assert versions[0] == b"1"
    assert set(versions) == {b"1", b"2"}
    return log_dir


@pytest.fixture
def mixed(template: Path, log_dir: Path) -> Path:
    shutil.copytree(template, log_dir)
    return log_dir


def test_pandas_and_pyarrow_read_every_row(mixed):
    """Without a schema they take the first (version-1) file's columns; given today's they
    read every column, nulls for the version-1 rows, integers as Int64."""
    plain = pd.read_parquet(mixed)
    assert len(plain) == 2 * PER_VERSION
    assert list(plain.columns) == [*SCHEMA_1_COLUMN_NAMES, "date"]
    full = pd.read_parquet(mixed, schema=dataset_schema())
    assert list(full.columns) == [*COLUMN_NAMES, "date"]
    assert str(full["cache_read_input_tokens"].dtype) == "Int64"
    old, new = full[full["custom_id"] == "v1"], full[full["custom_id"] == "v2"]
    assert len(old) == len(new) == PER_VERSION
    assert old["trace_id"].isna().all()
    assert new["trace_id"].notna().all()
    assert set(old["schema_version"]) == {1}
    assert set(new["schema_version"]) == {2}
    ends = new[new["event_type"] == "llm_end"]
    assert set(ends["cache_read_input_tokens"]) == {1000}
    table = ds.dataset(mixed, schema=dataset_schema(), partitioning="hive").to_table()
    assert table.num_rows == 2 * PER_VERSION
    assert table.schema.names == [*COLUMN_NAMES, "date"]


def test_duckdb_reads_every_column_by_name(mixed):
    glob = f"{mixed}/**/*.parquet"
    rows = duckdb.execute(
        "SELECT custom_id, count(*), count(trace_id), count(cache_read_input_tokens) "
        f"FROM read_parquet('{glob}', hive_partitioning=true, union_by_name=true) "
        "GROUP BY custom_id ORDER BY custom_id"
    ).fetchall()
    assert rows == [("v1", PER_VERSION, 0, 0), ("v2", PER_VERSION, PER_VERSION, CALLS)]


def test_the_read_api_reads_both_versions_alike(mixed):
    """events() has today's columns for every row; runs() derives for version-1 rows what
    version 2 stores: the same traces, operations and gen_ai provider name."""
    frame = events(mixed, payload=False)
    assert len(frame) == 2 * PER_VERSION
    assert "time_to_first_token_ms" in frame.columns
    table = runs(mixed)
    assert len(table) == 2 * 3 * CALLS
    by_version = dict(iter(table.groupby("custom_id")))
    for part in by_version.values():
        model_runs = part[part["run_type"] == "chat_model"]
        chains = part[part["name"] == "RunnableSequence"]
        steps = part[part["name"] == "RunnableLambda"]
        assert set(model_runs["operation"]) == {"chat"}
        assert set(chains["operation"]) == {"invoke_workflow"}
        assert steps["operation"].isna().all()
        assert set(model_runs["provider"]) == {"aws.bedrock"}
        assert set(model_runs["cache_read_input_tokens"].dropna()) <= {1000}
        for _, run in model_runs.iterrows():
            (chain,) = chains[chains["run_id"] == run["parent_run_id"]].itertuples()
            assert run["trace_id"] == chain.trace_id == chain.run_id.replace("-", "")
    # Version 1 stored no cache tokens, and its payload's usage_metadata was not filled.
    assert by_version["v2"]["cache_read_input_tokens"].notna().sum() == CALLS


def test_compaction_rewrites_version_1_files_in_todays_schema(mixed):
    (folder,) = mixed.glob("date=*")
    folder.rename(mixed / "date=2020-01-02")
    before = pd.read_parquet(mixed, schema=dataset_schema())
    result = compact(mixed)
    assert result.returncode == 0, result.stderr
    files = sorted(mixed.rglob("part-*.parquet"))
    assert len(files) == 1
    assert pq.read_schema(files[0]).metadata[b"parquet_logger.schema_version"] == b"2"
    after = pd.read_parquet(mixed)  # plain pandas now sees today's columns
    assert list(after.columns) == [*COLUMN_NAMES, "date"]
    assert len(after) == len(before)
    assert set(after["event_id"]) == set(before["event_id"])
    assert after["event_id"].is_unique
    old = after[after["custom_id"] == "v1"]
    assert set(old["schema_version"]) == {1}
    assert old["trace_id"].isna().all()


def test_a_lone_version_1_file_is_rewritten(mixed):
    """A partition whose one file is of version 1 is rewritten too (no other file to merge)."""
    (folder,) = mixed.glob("date=*")
    lone, *others = sorted(folder.glob("part-*.parquet"))  # the first is of version 1
    assert pq.read_schema(lone).metadata[b"parquet_logger.schema_version"] == b"1"
    for path in others:
        path.unlink()
    folder.rename(mixed / "date=2020-01-02")
    before = pd.read_parquet(mixed)
    assert compact(mixed).returncode == 0
    (only,) = mixed.rglob("part-*.parquet")
    assert pq.read_schema(only).names == list(COLUMN_NAMES)
    assert set(pd.read_parquet(mixed)["event_id"]) == set(before["event_id"])


def test_dataset_schema_names_a_bad_partition_key():
    with pytest.raises(ValueError, match="partition_keys must be among"):
        dataset_schema(("day",))
    assert dataset_schema(()).names == list(COLUMN_NAMES)
    assert dataset_schema(("date", "event_type")).names[-2:] == ["date", "event_type"]
