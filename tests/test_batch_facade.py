"""4.0.0's API of the package users come from: `Batch` (run / retrieve / run_and_retrieve)
with a real ChatOpenAI in background mode against the fake Responses server, the
`background_retrieval_queued` events and their discovery, `RetrievalConfig`, and the old
calling convention for models that are not LangChain runnables."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pandas as pd
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_openai import ChatOpenAI

from parquet_logger import (
    Batch,
    BatchOutcome,
    JobConfig,
    LLMConfig,
    ParquetLogger,
    ProcessingConfig,
    RetrievalConfig,
    StorageConfig,
    batch_run,
    retrieve_background_responses,
    with_tags,
)
from tests.fake_openai_responses import FakeResponsesServer
from tests.support import read_rows, stop_writers_under

QUIET = ProcessingConfig(show_progress=False)
POLL = RetrievalConfig(poll_interval=0.02, show_progress=False)


@pytest.fixture
async def client(server: FakeResponsesServer) -> AsyncIterator[openai.AsyncOpenAI]:
    made = openai.AsyncOpenAI(api_key="test", base_url=server.base_url)
    yield made
    await made.close()


@pytest.fixture
def out(tmp_path: Path) -> Iterator[Path]:
    """The jobs' output_dir; every writer started under it must exit and remove its ring."""
    yield tmp_path / "out"
    leaked = stop_writers_under(tmp_path)
    assert not leaked, f"rings left in /dev/shm by {leaked}"


def background_model(server: FakeResponsesServer) -> LLMConfig:
    """A real ChatOpenAI that answers in background mode (queued responses)."""
    return LLMConfig(
        llm_class=ChatOpenAI,
        llm_kwargs={
            "model": "gpt-fake",
            "api_key": "test",
            "base_url": server.base_url,
            "use_responses_api": True,
        },
        model_kwargs={"background": True},
    )


def make_batch(out: Path, **kwargs: Any) -> Batch:
    return Batch(
        job_config=JobConfig(category="bg", version="1.0"),
        storage_config=StorageConfig(output_dir=str(out), path_template="{job_category}"),
        processing_config=QUIET,
        **kwargs,
    )


def prompts(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt": [f"question {i}" for i in range(n)],
            "config": [with_tags(custom_id=f"q{i}") for i in range(n)],
        }
    )


def events(log_dir: Path, event_type: str) -> pd.DataFrame:
    rows = read_rows(log_dir)
    rows = rows[rows["event_type"] == event_type].copy()
    rows["data"] = rows["payload"].map(lambda p: json.loads(p)["data"])
    rows["response_id"] = rows["data"].map(lambda d: d.get("response_id"))
    return rows


async def test_run_and_retrieve_follows_the_background_answers_of_a_real_chat_openai(
    server: FakeResponsesServer, client: openai.AsyncOpenAI, out: Path
) -> None:
    """Queued answers are captured with their run and custom id, logged as queued, then
    retrieved into the same directory; every event of a response joins on its run id."""
    batch = make_batch(out)
    outcome = await batch.run_and_retrieve(prompts(3), background_model(server), client, POLL)

    assert isinstance(outcome, BatchOutcome)
    assert outcome.batch_results is not None
    assert [r.response_metadata["status"] for r in outcome.batch_results] == ["queued"] * 3
    pending = batch.pending_response_ids
    assert sorted(e["custom_id"] for e in pending.values()) == ["q0", "q1", "q2"]
    retrieved = outcome.retrieval_results
    assert retrieved is not None
    assert sorted(retrieved["response_id"]) == sorted(pending)
    assert set(retrieved["status"]) == {"completed"}

    log_dir = out / "bg"
    assert batch.local_path == log_dir
    llm_end = read_rows(log_dir).query("event_type == 'llm_end'")
    run_of = dict(zip(llm_end["custom_id"], llm_end["run_id"], strict=True))
    for event_type in ("background_retrieval_queued", "background_retrieval_complete"):
        rows = events(log_dir, event_type)
        assert sorted(rows["response_id"]) == sorted(pending), event_type
        for _, row in rows.iterrows():
            assert row["run_id"] == pending[row["response_id"]]["run_id"], event_type
            assert row["run_id"] == run_of[row["custom_id"]], event_type


async def test_queued_events_make_responses_discoverable_by_a_later_process(
    server: FakeResponsesServer, client: openai.AsyncOpenAI, out: Path
) -> None:
    """A run that never retrieves leaves queued events; a new Batch (source="local") or
    retrieve_background_responses(storage_config=...) finds them pending, once."""
    first = make_batch(out)
    await first.run(prompts(2), background_model(server))
    ids = sorted(first.pending_response_ids)
    assert len(ids) == 2

    later = make_batch(out)  # another process: nothing in memory
    assert later.pending_response_ids == {}
    nothing = await later.retrieve(client, RetrievalConfig(show_progress=False))  # "memory"
    assert nothing is not None
    assert nothing.empty
    found = await later.retrieve(client, RetrievalConfig(source="local", poll_interval=0.02))
    assert found is not None
    assert sorted(found["response_id"]) == ids
    assert set(found["status"]) == {"completed"}

    again = await retrieve_background_responses(
        openai_client=client,
        storage_config=StorageConfig(output_dir=str(out), path_template="{job_category}"),
        job_config=JobConfig(category="bg"),
        retrieval_config=RetrievalConfig(poll_interval=0.02, show_progress=False),
    )
    assert again is not None
    assert again.empty
    # in_progress then completed: two GETs per response, none by the last call
    assert server.total_requests() == 2 * 2


async def test_retrieve_by_storage_config_checks_its_source(tmp_path: Path) -> None:
    """No df and no storage_config, or source "s3" without S3: a ValueError naming what is
    missing; a job directory that does not exist yet holds nothing pending."""
    with pytest.raises(ValueError, match="storage_config"):
        await retrieve_background_responses(retrieval_config=POLL)
    local_only = StorageConfig(output_dir=str(tmp_path), path_template="")
    with pytest.raises(ValueError, match="s3_config"):
        await retrieve_background_responses(
            storage_config=local_only,
            retrieval_config=RetrievalConfig(source="s3", show_progress=False),
        )
    empty = await retrieve_background_responses(
        storage_config=StorageConfig(output_dir=str(tmp_path / "never")), retrieval_config=POLL
    )
    assert empty is not None
    assert empty.empty
    assert "response_id" in empty.columns
    with pytest.raises(ValueError, match="source must be one of"):
        RetrievalConfig(source="disk")


class KeywordOnlyModel:
    """An object with `ainvoke` that is not a LangChain runnable (a user's wrapper), built
    with the handlers it should report to, as the package users come from built it."""

    def __init__(self, callbacks: list[Any] | None = None) -> None:
        self.callbacks = callbacks
        self.calls: list[dict[str, Any]] = []

    async def ainvoke(self, *, input: str, **kwargs: Any) -> str:
        self.calls.append({"input": input, **kwargs})
        return f"echo: {input}"


async def test_an_llm_that_is_not_a_runnable_is_called_with_keywords_only() -> None:
    """input= always; config= and tools= only when the row has them; nothing is bound and
    the row's config is passed as given."""
    model = KeywordOnlyModel()
    df = pd.DataFrame(
        {
            "prompt": ["a", "b", "c"],
            "config": [{"tags": ["t"]}, None, None],
            "tools": [None, [{"type": "function", "name": "f"}], None],
        }
    )
    results = await batch_run(df, model, show_progress=False)
    assert results == ["echo: a", "echo: b", "echo: c"]
    assert sorted(model.calls, key=lambda c: c["input"]) == [
        {"input": "a", "config": {"tags": ["t"]}},
        {"input": "b", "tools": [{"type": "function", "name": "f"}]},
        {"input": "c"},
    ]


async def test_batch_gives_a_non_runnable_model_its_logger_at_construction(out: Path) -> None:
    """Batch.run builds a non-runnable llm_class with callbacks=[the job's logger] and
    leaves the rows' configs untouched; a runnable still gets the logger per row."""
    built: list[KeywordOnlyModel] = []

    class Recorded(KeywordOnlyModel):
        def __init__(self, callbacks: list[Any] | None = None) -> None:
            super().__init__(callbacks)
            built.append(self)

    batch = make_batch(out)
    df = pd.DataFrame({"prompt": ["x"], "config": [{"metadata": {"k": 1}}]})
    assert await batch.run(df, LLMConfig(llm_class=Recorded)) == ["echo: x"]
    (model,) = built
    assert model.calls == [{"input": "x", "config": {"metadata": {"k": 1}}}]
    assert model.callbacks is not None
    assert [type(h) for h in model.callbacks] == [ParquetLogger]

    chat = LLMConfig(llm_class=FakeListChatModel, llm_kwargs={"responses": ["r"]})
    assert [m.content for m in await batch.run(df, chat) or []] == ["r"]
    rows = read_rows(out / "bg")
    assert sorted(rows["event_type"]) == ["chat_model_start", "llm_end"]


async def test_batch_keeps_the_old_messages_and_returns(out: Path, capsys: Any) -> None:
    """The words users match on: a missing prompt column, the progress line, the note when
    run_and_retrieve captured nothing; return_results=False returns None."""
    batch = make_batch(out)
    chat = LLMConfig(llm_class=FakeListChatModel, llm_kwargs={"responses": ["r"]})
    with pytest.raises(ValueError, match=r"prompt_col: DataFrame missing required column 'prompt'"):
        await batch.run(pd.DataFrame({"text": ["a"]}), chat)
    talkative = Batch(
        storage_config=StorageConfig(output_dir=str(out / "t")),
        processing_config=ProcessingConfig(return_results=False),
    )
    outcome = await talkative.run_and_retrieve(pd.DataFrame({"prompt": ["a", "b"]}), chat)
    assert outcome == BatchOutcome(batch_results=None, retrieval_results=None)
    printed = capsys.readouterr().out
    assert "Processed 2/2 rows" in printed
    assert "No background response IDs captured: retrieval skipped" in printed
