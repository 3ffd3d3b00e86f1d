"""batch_process: the seed package's calls, job folders and metadata, ChatOpenAI against a
fake OpenAI server, the compatibility config objects."""

from __future__ import annotations

import copy
import importlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from parquet_logger import ParquetLogger, with_tags
from parquet_logger.batch import job as job_module
from parquet_logger.batch.compat_config import (
    ColumnConfig,
    JobConfig,
    LLMConfig,
    ProcessingConfig,
    StorageConfig,
)
from parquet_logger.batch.job import batch_process
from parquet_logger.batch.job_model import DEFAULT_OPENAI_MODEL
from parquet_logger.batch.job_paths import safe_segment
from parquet_logger.batch.run import batch_run
from tests import fake_openai
from tests.support import read_rows, stop_writers_under

seed: Any = importlib.import_module("langchain_callback_parquet_logger")
FAST: dict[str, Any] = {"flush_interval_s": 0.2, "show_progress": False}


class Answer(BaseModel):
    summary: str
    confidence: float


@pytest.fixture
def fake() -> Iterator[fake_openai.FakeOpenAI]:
    """A fake OpenAI server on 127.0.0.1, stopped at teardown."""
    yield from fake_openai.running()


@pytest.fixture
def openai_env(fake: fake_openai.FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point a default ChatOpenAI() at the fake server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_BASE", fake.base_url)
    monkeypatch.delenv("LANGCHAIN_S3_BUCKET", raising=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in tmp_path (the seed's calls write to ./batch_logs); every writer started under it
    must exit and remove its ring."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    leaked = stop_writers_under(tmp_path)
    assert not leaked, f"rings left in /dev/shm by {leaked}"


def seed_frame() -> pd.DataFrame:
    """The DataFrame of the seed package's documentation."""
    return pd.DataFrame(
        {
            "prompt": ["What is AI?", "Explain quantum computing"],
            "config": [with_tags(custom_id="q1"), with_tags(custom_id="q2")],
        }
    )


def metadata_of(rows: pd.DataFrame) -> dict[str, Any]:
    values = set(rows["logger_metadata"])
    assert len(values) == 1
    parsed = json.loads(values.pop())
    assert isinstance(parsed, dict)
    return parsed


@pytest.mark.usefixtures("openai_env")
async def test_seed_local_example_runs_as_written(
    workdir: Path, fake: fake_openai.FakeOpenAI
) -> None:
    """The seed's local-only call works unchanged, with a default ChatOpenAI."""
    results = await batch_process(
        seed_frame(),
        job_category="research",
        job_subcategory="questions",
        output_dir="./batch_logs",
    )
    assert results is not None
    assert [r.content for r in results] == ["echo: What is AI?", "echo: Explain quantum computing"]
    assert {r["model"] for r in fake.requests} == {DEFAULT_OPENAI_MODEL}
    rows = read_rows(workdir / "batch_logs" / "research" / "questions" / "vunversioned")
    assert sorted(set(rows["custom_id"])) == ["q1", "q2"]
    assert set(rows["event_type"]) == {"chat_model_start", "llm_end"}
    meta = metadata_of(rows)
    assert meta["batch_config"]["job"]["category"] == "research"
    assert meta["batch_size"] == 2
    assert meta["batch_config"]["llm"]["class"] == "ChatOpenAI"


@pytest.mark.usefixtures("openai_env")
async def test_seed_structured_output_example_runs_as_written(workdir: Path) -> None:
    """The seed's structured-output call returns Answer objects and logs the chosen events."""
    results = await batch_process(
        seed_frame(),
        structured_output=Answer,
        job_category="structured_qa",
        event_types=["llm_start", "llm_end", "chain_start"],
    )
    assert results is not None
    assert results == [Answer(summary="fake text", confidence=0.5)] * 2
    rows = read_rows(workdir / "batch_logs" / "structured_qa" / "default" / "vunversioned")
    assert set(rows["event_type"]) == {"chain_start", "llm_end"}
    assert set(rows["custom_id"]) == {"q1", "q2"}  # child runs inherit the row's tags


@pytest.mark.usefixtures("openai_env", "workdir")
async def test_seed_s3_example_configures_the_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's S3 call hands ParquetLogger the bucket and the filled-in key prefix."""
    seen: dict[str, Any] = {}

    class Recording(ParquetLogger):
        def __init__(self, *args: Any, s3_config: Any = None, **kwargs: Any) -> None:
            seen["s3_config"] = s3_config  # uploads are the S3 issue's: only the wiring here
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(job_module, "ParquetLogger", Recording)
    await batch_process(
        seed_frame(),
        job_category="production",
        s3_bucket="my-data-lake",
        s3_prefix_template="ml/{job_category}/{date}/",
        max_concurrency=1000,
    )
    today = datetime.now(UTC).date().isoformat()
    assert seen["s3_config"].bucket == "my-data-lake"
    assert seen["s3_config"].prefix == f"ml/production/{today}/"


async def test_job_metadata_is_stored_with_secrets_redacted(
    workdir: Path, fake: fake_openai.FakeOpenAI
) -> None:
    """Job fields, free metadata and the model's settings are in every row; secrets are not."""
    await batch_process(
        seed_frame(),
        llm_class=ChatOpenAI,
        llm_kwargs={"model": "m-1", "api_key": "sk-secret-123", "base_url": fake.base_url},
        job_category="qa",
        job_version="1.2",
        job_environment="staging",
        job_description="nightly",
        job_metadata={"owner": "team-a", "db_password": "hunter2"},
        output_dir=workdir / "out",
        path_template="{environment}/{job_category}/v{job_version_safe}/{job_version}",
        **FAST,
    )
    rows = read_rows(workdir / "out" / "staging" / "qa" / "v1_2" / "1.2")
    assert len(rows) == 4
    text = rows["logger_metadata"].iloc[0]
    assert "sk-secret-123" not in text
    assert "hunter2" not in text
    meta = metadata_of(rows)
    job = meta["batch_config"]["job"]
    assert (job["version"], job["environment"], job["description"]) == ("1.2", "staging", "nightly")
    assert meta["owner"] == "team-a"
    assert meta["batch_config"]["llm"]["llm_kwargs"]["api_key"] == "***"
    assert meta["batch_config"]["llm"]["settings"]["model_name"] == "m-1"


async def test_transient_http_errors_are_retried_by_us_and_logged(
    workdir: Path, fake: fake_openai.FakeOpenAI
) -> None:
    """Two 429s from the server: our layer retries (the SDK's is off) and logs both."""
    fake.fail_next(429, times=2, headers={"retry-after-ms": "1"})
    df = pd.DataFrame({"prompt": ["hi"], "config": [with_tags(custom_id="r1")]})
    results = await batch_process(
        df,
        llm_kwargs={"api_key": "sk-x", "base_url": fake.base_url},
        job_category="retries",
        output_dir=workdir / "out",
        retry_initial_wait_s=0.0,
        **FAST,
    )
    assert results is not None
    assert results[0].content == "echo: hi"
    assert len(fake.requests) == 3
    rows = read_rows(workdir / "out" / "retries" / "default" / "vunversioned")
    retries = rows[rows["event_type"] == "retry"]
    assert len(retries) == 2
    assert set(retries["custom_id"]) == {"r1"}
    assert "RateLimitError" in retries["payload"].iloc[0]


async def test_tools_are_bound_per_row(fake: fake_openai.FakeOpenAI) -> None:
    """A row's tools are bound to ChatOpenAI, and the model's tool call comes back."""

    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    llm = ChatOpenAI(model="m", api_key=SecretStr("sk-x"), base_url=fake.base_url, max_retries=0)
    df = pd.DataFrame({"prompt": ["add 1 and 1", "hello"], "tools": [[add], None]})
    results = await batch_run(df, llm, show_progress=False)
    assert results is not None
    assert results[0].tool_calls[0]["name"] == "add"
    assert results[1].content == "echo: hello"
    sent_tools = {r["messages"][-1]["content"]: bool(r.get("tools")) for r in fake.requests}
    assert sent_tools == {"add 1 and 1": True, "hello": False}


async def test_config_objects_give_the_same_job_as_keywords(workdir: Path) -> None:
    """The compatibility config objects work like the keywords and are not modified."""
    df = pd.DataFrame(
        {"question": ["a", "b"], "cfg": [with_tags(custom_id=f"c{i}") for i in (1, 2)]}
    )
    configs: dict[str, Any] = {
        "llm_config": LLMConfig(llm_class=FakeListChatModel, llm_kwargs={"responses": ["x"]}),
        "job_config": JobConfig(category="cfg", subcategory="objects", version="2.0"),
        "storage_config": StorageConfig(output_dir=str(workdir / "out")),
        "processing_config": ProcessingConfig(max_concurrency=2, show_progress=False),
        "column_config": ColumnConfig(prompt="question", config="cfg", tools=None),
    }
    before = copy.deepcopy(configs)
    results = await batch_process(df, flush_interval_s=0.2, **configs)
    assert results is not None
    assert [r.content for r in results] == ["x", "x"]
    assert configs == before
    rows = read_rows(workdir / "out" / "cfg" / "objects" / "v2_0")
    assert set(rows["custom_id"]) == {"c1", "c2"}


async def test_the_seed_packages_own_config_objects_are_accepted(workdir: Path) -> None:
    """Config objects imported from langchain_callback_parquet_logger are read by field."""
    results = await batch_process(
        pd.DataFrame({"prompt": ["a"]}),
        llm_config=seed.LLMConfig(llm_class=FakeListChatModel, llm_kwargs={"responses": ["y"]}),
        job_config=seed.JobConfig(category="from_seed"),
        storage_config=seed.StorageConfig(output_dir=str(workdir / "out")),
        processing_config=seed.ProcessingConfig(show_progress=False),
        flush_interval_s=0.2,
    )
    assert results is not None
    assert results[0].content == "y"
    assert (workdir / "out" / "from_seed" / "default" / "vunversioned").is_dir()


async def test_conflicting_keyword_and_config_object_is_an_error(workdir: Path) -> None:
    """The same setting given twice with different values is a ValueError naming it."""
    with pytest.raises(ValueError, match="job_category"):
        await batch_process(
            pd.DataFrame({"prompt": ["a"]}),
            FakeListChatModel(responses=["x"]),
            job_category="one",
            job_config=JobConfig(category="two"),
            output_dir=workdir / "out",
        )


async def test_unsafe_job_names_stay_inside_output_dir(workdir: Path) -> None:
    """A category of `../../escape` becomes one safe folder inside output_dir."""
    out = workdir / "deep" / "out"
    results = await batch_process(
        pd.DataFrame({"prompt": ["a"]}),
        FakeListChatModel(responses=["x"]),
        job_category="../../escape",
        job_subcategory="a/b",
        job_version="..",
        output_dir=out,
        return_results=False,
        **FAST,
    )
    assert results is None
    written = list(workdir.rglob("*.parquet"))
    assert written
    assert all(out in p.parents for p in written)
    assert [p.name for p in out.iterdir()] == [safe_segment("../../escape")]
    assert (out / safe_segment("../../escape") / "a_b" / "v__").is_dir()


async def test_where_the_logs_went_is_logged(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The local path is reported through logging."""
    caplog.set_level(logging.INFO, logger="parquet_logger.batch")
    await batch_process(
        pd.DataFrame({"prompt": ["a"]}),
        FakeListChatModel(responses=["x"]),
        job_category="report",
        output_dir=workdir / "out",
        **FAST,
    )
    assert str(workdir / "out" / "report" / "default" / "vunversioned") in caplog.text


async def test_bad_arguments_name_the_parameter(workdir: Path) -> None:
    """Bad input fails before any logger starts, naming the parameter."""
    df = pd.DataFrame({"prompt": ["a"]})
    llm = FakeListChatModel(responses=["x"])
    out = workdir / "out"
    with pytest.raises(TypeError, match="flush_every"):
        await batch_process(df, llm, output_dir=out, flush_every=3)
    with pytest.raises(TypeError, match="job_metadata"):
        await batch_process(df, llm, output_dir=out, logger_metadata={"a": 1})
    with pytest.raises(ValueError, match="llm_class"):
        await batch_process(df, llm, llm_class=FakeListChatModel, output_dir=out)
    with pytest.raises(ValueError, match="job_category"):
        await batch_process(df, llm, job_category="", output_dir=out)
    with pytest.raises(ValueError, match=r"path_template.*\{job_category\}"):
        await batch_process(df, llm, path_template="{team}/{job_category}", output_dir=out)
    with pytest.raises(ValueError, match="s3_prefix_template"):
        await batch_process(df, llm, s3_prefix_template="x/{date}", output_dir=out)
    with pytest.raises(TypeError, match="df"):
        await batch_process(df.to_dict("records"), llm, output_dir=out)
    assert not out.exists()
