"""BatchOptions / JobOptions / RetrievalOptions: one check per parameter (a wrong type is a
TypeError, a wrong value a ValueError, through every public entry point), and the seed
package's config objects mapped onto them."""

from __future__ import annotations

import importlib
from dataclasses import MISSING, fields
from typing import Any

import pandas as pd
import pytest

from parquet_logger import S3Config, batch_process, batch_run, retrieve_background_responses
from parquet_logger.batch.compat_config import (
    CONFIG_FIELDS,
    ColumnConfig,
    JobConfig,
    LLMConfig,
    ProcessingConfig,
    StorageConfig,
)
from parquet_logger.batch.job_options import (
    JOB_BATCH_DEFAULTS,
    JOB_DEFAULTS,
    JobOptions,
    apply_config_objects,
)
from parquet_logger.batch.options import BatchOptions
from parquet_logger.retrieval.options import RetrievalOptions, with_seed_configs
from tests.batch_models import ScriptedChat

seed: Any = importlib.import_module("langchain_callback_parquet_logger")

BATCH_CASES = [
    ({"max_concurrency": "10"}, TypeError),
    ({"max_concurrency": 2.5}, TypeError),
    ({"max_concurrency": 0}, ValueError),
    ({"row_timeout": "1"}, TypeError),
    ({"row_timeout": 0}, ValueError),
    ({"row_timeout": float("nan")}, ValueError),
    ({"max_retries": "2"}, TypeError),
    ({"max_retries": -1}, ValueError),
    ({"retry_initial_wait_s": "0.5"}, TypeError),
    ({"retry_max_wait_s": -1.0}, ValueError),
    ({"processes": "2"}, TypeError),
    ({"processes": 0}, ValueError),
    ({"return_exceptions": 1}, TypeError),
    ({"return_results": "no"}, TypeError),
    ({"show_progress": None}, TypeError),
    ({"prompt_col": 3}, TypeError),
    ({"config_col": 3}, TypeError),
    ({"mp_context": 3}, TypeError),
    ({"engine": "spark"}, ValueError),
    ({"engine": 3}, TypeError),
    ({"engine": "ray", "processes": 2}, ValueError),
    ({"address": "auto"}, ValueError),  # engine="local"
    ({"address": 3, "engine": "ray"}, TypeError),
    ({"ray_log_dir": 3, "engine": "ray"}, TypeError),
    ({"ray_log_dir": "/tmp/x"}, ValueError),  # engine="local"
]
RETRIEVAL_CASES = [
    ({"batch_size": "50"}, TypeError),
    ({"batch_size": 0}, ValueError),
    ({"max_retries": "3"}, TypeError),
    ({"max_retries": -1}, ValueError),
    ({"timeout": "30"}, TypeError),
    ({"timeout": 0}, ValueError),
    ({"poll_interval_s": -1}, ValueError),
    ({"max_wait_s": 0}, ValueError),
    ({"max_wait_s": float("inf")}, ValueError),
    ({"retry_initial_wait_s": "fast"}, TypeError),
    ({"max_active_responses": 0}, ValueError),
    ({"max_active_responses": 1.5}, TypeError),
    ({"show_progress": "no"}, TypeError),
    ({"return_results": 0}, TypeError),
]


def case_id(case: Any) -> str:
    return repr(case) if isinstance(case, dict) else case.__name__


@pytest.mark.parametrize(("kwargs", "error"), BATCH_CASES, ids=case_id)
async def test_batch_run_rejects_a_bad_option(kwargs: dict[str, Any], error: type) -> None:
    """batch_run: a wrong type is a TypeError, a wrong value a ValueError, naming it."""
    name = next(iter(kwargs))
    df = pd.DataFrame({"prompt": ["a"]})
    with pytest.raises(error, match=name.removeprefix("retry_")):
        await batch_run(df, ScriptedChat(), **kwargs)


@pytest.mark.parametrize(("kwargs", "error"), BATCH_CASES, ids=case_id)
async def test_batch_process_rejects_a_bad_option(
    kwargs: dict[str, Any], error: type, tmp_path: Any
) -> None:
    """batch_process: the same checks, before any logger starts."""
    name = next(iter(kwargs))
    out = tmp_path / "out"
    df = pd.DataFrame({"prompt": ["a"]})
    with pytest.raises(error, match=name.removeprefix("retry_")):
        await batch_process(df, ScriptedChat(), output_dir=out, **kwargs)
    assert not out.exists()


@pytest.mark.parametrize(("kwargs", "error"), RETRIEVAL_CASES, ids=case_id)
async def test_retrieval_rejects_a_bad_option(kwargs: dict[str, Any], error: type) -> None:
    """retrieve_background_responses: the same rule, before any client is made."""
    name = next(iter(kwargs))
    df = pd.DataFrame({"response_id": ["r"], "custom_id": ["c"]})
    with pytest.raises(error, match=name):
        await retrieve_background_responses(df, None, **kwargs)


@pytest.mark.parametrize(("category", "error"), [(3, TypeError), ("  ", ValueError)])
def test_job_category_must_be_a_non_empty_string(category: Any, error: type) -> None:
    """JobOptions: job_category is checked like every other option."""
    with pytest.raises(error, match="job_category"):
        JobOptions(job_category=category)


def test_defaults_agree_with_the_config_objects_and_s3config() -> None:
    """Each field of our config objects defaults to the default of the keyword it stands for,
    and batch_process's S3 keywords default to S3Config's fields."""
    objects = {
        "job_config": JobConfig,
        "storage_config": StorageConfig,
        "processing_config": ProcessingConfig,
        "column_config": ColumnConfig,
        "llm_config": LLMConfig,
    }
    for param, mapping in CONFIG_FIELDS.items():
        defaults = {f.name: f.default for f in fields(objects[param])}
        for field, keyword in mapping.items():
            if defaults[field] is MISSING:  # LLMConfig.llm_class
                continue
            ours = getattr(JOB_BATCH_DEFAULTS, keyword, None)
            if keyword not in {f.name for f in fields(BatchOptions)}:
                ours = getattr(JOB_DEFAULTS, keyword)
            assert defaults[field] == ours, (param, field)
    assert JOB_DEFAULTS.s3_prefix == S3Config("b").prefix
    assert JOB_DEFAULTS.s3_on_failure == S3Config("b").on_failure
    assert JOB_DEFAULTS.s3_retry_attempts == S3Config("b").retry_attempts


def test_batch_process_defaults_differ_from_batch_run_only_in_concurrency() -> None:
    """batch_process runs 100 rows at once by default (as the seed did); batch_run 10."""
    assert BatchOptions().max_concurrency == 10
    assert BatchOptions(max_concurrency=100) == JOB_BATCH_DEFAULTS


@pytest.mark.parametrize("module", ["ours", "seed"])
def test_config_objects_map_onto_the_options(module: str) -> None:
    """ProcessingConfig / ColumnConfig / JobConfig fields land on the options they name."""
    source: Any = seed if module == "seed" else None
    processing = (source.ProcessingConfig if source else ProcessingConfig)(
        max_concurrency=7, row_timeout=2.5, return_results=False, buffer_size=10
    )
    columns = (source.ColumnConfig if source else ColumnConfig)(prompt="q", config="cfg")
    job_config = (source.JobConfig if source else JobConfig)(category="cat", version="2")
    job, batch = apply_config_objects(
        JOB_DEFAULTS,
        JOB_BATCH_DEFAULTS,
        {"processing_config": processing, "column_config": columns, "job_config": job_config},
    )
    assert (batch.max_concurrency, batch.row_timeout, batch.return_results) == (7, 2.5, False)
    assert (batch.prompt_col, batch.config_col) == ("q", "cfg")
    assert (job.job_category, job.job_version, job.buffer_size) == ("cat", "2", 10)


def test_a_config_object_with_a_bad_value_is_rejected_like_the_keyword() -> None:
    """A config object's value is checked as the option it becomes."""
    with pytest.raises(TypeError, match="max_concurrency"):
        apply_config_objects(
            JOB_DEFAULTS,
            JOB_BATCH_DEFAULTS,
            {"processing_config": ProcessingConfig(max_concurrency="many")},  # type: ignore[arg-type]
        )


def test_seed_retrieval_config_maps_onto_retrieval_options() -> None:
    """RetrievalConfig's poll interval and attempts become poll_interval_s and max_wait_s."""
    rc = seed.RetrievalConfig(poll_interval=2.0, max_poll_attempts=10, batch_size=5)
    columns = seed.ColumnConfig(response_id="rid", custom_id="cid")
    options = with_seed_configs(RetrievalOptions(), rc, columns)
    assert (options.poll_interval_s, options.max_wait_s, options.batch_size) == (2.0, 20.0, 5)
    assert (options.response_id_col, options.custom_id_col) == ("rid", "cid")
