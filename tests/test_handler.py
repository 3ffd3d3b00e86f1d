"""The callback handler end to end: real LangChain runnables in, rows read back from Parquet."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pandas as pd
import pytest
from langchain_core.callbacks import dispatch_custom_event
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, Generation, LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from pydantic import BaseModel

from parquet_logger import EventType, ParquetLogger, with_tags
from parquet_logger.transport.statedir import StateDir
from tests.support import read_rows, stop_writer


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ParquetLogger, Path]]:
    """One logger recording every event type; tests tell their rows apart by custom_id."""
    path = tmp_path_factory.mktemp("handler") / "logs"
    logger = ParquetLogger(path, event_types=list(EventType), max_event_bytes=256 * 1024)
    yield logger, path
    logger.close()
    stop_writer(path)
    assert not StateDir.for_log_dir(path).shm_ring.exists()


def rows_of(shared: tuple[ParquetLogger, Path], custom_id: str) -> pd.DataFrame:
    logger, path = shared
    logger.flush(timeout=30)
    df = read_rows(path)
    return df[df["custom_id"] == custom_id].sort_values("timestamp").reset_index(drop=True)


def payload(row: pd.Series) -> dict[str, Any]:
    return orjson.loads(row["payload"])


class Retriever(BaseRetriever):
    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return [Document(page_content=f"about {query}", metadata={"source": "test"})]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_chain_tool_and_retriever_events_form_a_tree(shared):
    """prompt | model | parser, a tool and a retriever: every event, parents and custom ids."""
    logger, _ = shared

    def emit(text: str) -> str:
        dispatch_custom_event("checkpoint", {"seen": text})
        return text

    chain = (
        ChatPromptTemplate.from_messages([("human", "Q: {q}")])
        | FakeListChatModel(responses=["4"])
        | StrOutputParser()
        | RunnableLambda(emit)
    )
    config = with_tags(custom_id="tree", config={"callbacks": [logger]})
    assert chain.invoke({"q": "2+2"}, config=config) == "4"
    assert add.invoke({"a": 1, "b": 2}, config=config) == 3
    assert Retriever().invoke("cats", config=config)[0].page_content == "about cats"

    df = rows_of(shared, "tree")
    counts = df["event_type"].value_counts().to_dict()
    assert counts == {
        "chain_start": 4,
        "chain_end": 4,
        "chat_model_start": 1,
        "llm_end": 1,
        "custom_event": 1,
        "tool_start": 1,
        "tool_end": 1,
        "retriever_start": 1,
        "retriever_end": 1,
    }
    root = df[(df["event_type"] == "chain_start") & (df["parent_run_id"] == "")]
    assert root["name"].tolist() == ["RunnableSequence"]
    root_id = root["run_id"].iloc[0]
    children = df[df["parent_run_id"] == root_id]
    assert set(children["run_type"]) == {"prompt", "chat_model", "parser", "chain"}
    model_rows = df[df["run_type"] == "chat_model"]
    assert model_rows["run_id"].nunique() == 1
    assert set(model_rows["name"]) == {"FakeListChatModel"}
    end = df[df["event_type"] == "llm_end"].iloc[0]
    assert end["latency_ms"] > 0
    generation = payload(end)["data"]["response"]["generations"][0][0]
    assert generation["text"] == generation["message"]["content"] == "4"
    custom = payload(df[df["event_type"] == "custom_event"].iloc[0])
    assert custom["data"] == {"name": "checkpoint", "data": {"seen": "4"}}
    tool_end = payload(df[df["event_type"] == "tool_end"].iloc[0])
    assert tool_end["data"]["output"] == 3
    docs = payload(df[df["event_type"] == "retriever_end"].iloc[0])["data"]["documents"]
    assert docs[0]["page_content"] == "about cats"
    assert df["event_id"].is_unique


def test_streamed_tokens_are_rows(shared):
    """llm_new_token rows, one per streamed chunk, when the event type is enabled."""
    logger, _ = shared
    model = GenericFakeChatModel(messages=iter([AIMessage(content="one two three")]))
    config = with_tags(custom_id="stream", config={"callbacks": [logger]})
    chunks = list(model.stream("hi", config=config))
    df = rows_of(shared, "stream")
    tokens = df[df["event_type"] == "llm_new_token"]
    assert len(tokens) == len(chunks) > 1
    assert "".join(payload(r)["data"]["token"] for _, r in tokens.iterrows()) == "one two three"


def test_model_facts_usage_and_remembered_metadata(shared):
    """llm_type from invocation_params, usage summed over generations, start metadata kept."""
    logger, _ = shared
    run_id = uuid4()
    tags = ["logger_custom_id:usage", "team:a"]
    logger.on_llm_start(
        {"name": "ChatThing"},
        ["p1", "p2"],
        run_id=run_id,
        tags=tags,
        metadata={"ls_provider": "openai", "job": "j1"},
        invocation_params={"_type": "openai-chat", "model": "gpt-test", "temperature": 0},
    )
    generations: list[list[Any]] = [
        [
            ChatGeneration(
                message=AIMessage(
                    content=f"answer {i}",
                    usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
                    response_metadata={"model_name": "gpt-test-2026", "finish_reason": "stop"},
                )
            )
        ]
        for i in range(2)
    ]
    logger.on_llm_end(LLMResult(generations=generations), run_id=run_id, tags=tags)
    df = rows_of(shared, "usage")
    start, end = df.iloc[0], df.iloc[1]
    assert payload(start)["data"]["llm_type"] == "openai-chat"
    assert start["model"] == "gpt-test"
    assert start["provider"] == "openai"
    assert (end["input_tokens"], end["output_tokens"], end["total_tokens"]) == (20, 10, 30)
    assert end["model"] == "gpt-test-2026"
    assert end["provider"] == "openai"
    assert payload(end)["execution"]["metadata"] == {"ls_provider": "openai", "job": "j1"}
    # The layout of the package users come from: the whole result, and the first
    # message's metadata as it is.
    data = payload(end)["data"]
    texts = [g[0]["text"] for g in data["response"]["generations"]]
    assert texts == ["answer 0", "answer 1"]
    assert data["usage_metadata"] == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert data["response_metadata"]["finish_reason"] == "stop"
    assert data["model"] == "gpt-test-2026"


def test_root_run_and_serialized_llm_type_as_the_package_users_come_from(shared):
    """A root run's execution.parent_run_id is "" and absent metadata {} (not null), and
    llm_type falls back to serialized["_type"] when invocation_params has none (#13)."""
    logger, _ = shared
    logger.on_llm_start(
        {"name": "Legacy", "_type": "legacy-llm"},
        ["p"],
        run_id=uuid4(),
        tags=["logger_custom_id:root-run"],
        invocation_params={"model": "m"},
    )
    start = rows_of(shared, "root-run").iloc[0]
    execution = payload(start)["execution"]
    assert execution["parent_run_id"] == ""
    assert execution["metadata"] == {}
    assert payload(start)["data"]["llm_type"] == "legacy-llm"


def test_usage_from_llm_output_when_messages_carry_none(shared):
    """Completion-style results report usage through llm_output["token_usage"]."""
    logger, _ = shared
    run_id = uuid4()
    tags = ["logger_custom_id:llm-output"]
    logger.on_llm_start(None, ["p"], run_id=run_id, tags=tags)
    result = LLMResult(
        generations=[[Generation(text="x")]],
        llm_output={
            "token_usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
            "model_name": "davinci",
        },
    )
    logger.on_llm_end(result, run_id=run_id, tags=tags)
    end = rows_of(shared, "llm-output").iloc[1]
    assert (end["input_tokens"], end["output_tokens"], end["total_tokens"]) == (7, 3, 10)
    assert end["model"] == "davinci"


def test_errors_keep_type_message_and_traceback(shared):
    """A failing step logs chain_error with its type, message and traceback."""
    logger, _ = shared

    def explode(_: object) -> None:
        raise ValueError("the model said no")

    config = with_tags(custom_id="error", config={"callbacks": [logger]})
    with pytest.raises(ValueError, match="said no"):
        RunnableLambda(explode).invoke(1, config=config)
    err = rows_of(shared, "error").iloc[-1]
    assert err["event_type"] == "chain_error"
    assert err["error_type"] == "ValueError"
    error = payload(err)["data"]["error"]
    assert error["message"] == "the model said no"
    assert "explode" in error["traceback"]


def test_secrets_never_reach_disk(shared):
    """Credential-looking keys and LangChain secret markers are written as ***."""
    logger, path = shared
    run_id = uuid4()
    tags = ["logger_custom_id:secrets"]
    serialized = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain_openai", "ChatOpenAI"],
        "kwargs": {"openai_api_key": {"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]}},
    }
    logger.on_chat_model_start(
        serialized,
        [[]],
        run_id=run_id,
        tags=tags,
        metadata={"hf_token": "hf-SECRET-1"},
        invocation_params={"api_key": "sk-SECRET-2", "max_tokens": 5, "password": "pw-SECRET-3"},
    )
    df = rows_of(shared, "secrets")
    text = df.iloc[0]["payload"]
    for secret in ("hf-SECRET-1", "sk-SECRET-2", "pw-SECRET-3", "OPENAI_API_KEY"):
        assert secret not in text
    data = payload(df.iloc[0])
    assert data["data"]["invocation_params"]["max_tokens"] == 5
    assert data["data"]["invocation_params"]["api_key"] == "***"
    assert data["raw"]["serialized"]["kwargs"]["openai_api_key"] == "***"
    for file in path.rglob("*.parquet"):
        assert b"SECRET" not in file.read_bytes()


class Exploding(BaseModel):
    value: int = 1

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("cannot dump me")


def test_hostile_arguments_are_still_logged(shared):
    """Cycles, failing model_dump, bytes, NaN, lone surrogates: one row each, valid JSON."""
    logger, _ = shared
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    odd_inputs = [
        cyclic,
        {"model": Exploding()},
        {"blob": b"\x00\xffbytes"},
        {"nan": math.nan, "inf": math.inf},
        {"text": "lone \ud800 surrogate", "\udfff": "key"},
        {"deep": _nested(3000)},
    ]
    tags = ["logger_custom_id:hostile"]
    for inputs in odd_inputs:
        logger.on_chain_start(None, inputs, run_id=uuid4(), tags=tags)
    df = rows_of(shared, "hostile")
    assert len(df) == len(odd_inputs)
    seen = [payload(r)["data"]["inputs"] for _, r in df.iterrows()]
    assert seen[3] == {"nan": None, "inf": None}
    assert "surrogate" in seen[4]["text"]
    assert logger.stats()["callback_failures"] == 0


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"n": node}
    return node


def test_oversized_payload_is_truncated_with_its_size(shared):
    """An argument above max_event_bytes is cut, and the row says how big it was."""
    logger, _ = shared
    huge = "x" * (2 * 1024 * 1024)
    logger.on_text(huge, run_id=uuid4(), tags=["logger_custom_id:huge"])
    row = rows_of(shared, "huge").iloc[0]
    assert len(row["payload"]) <= 256 * 1024 + 100
    data = payload(row)
    assert data["truncated"]["original_bytes"] > 2 * 1024 * 1024


def test_legacy_agent_retry_and_text_events(shared):
    """agent_action, agent_finish, retry and text callbacks become rows too."""
    from langchain_core.agents import AgentAction, AgentFinish
    from tenacity import RetryCallState, Retrying

    logger, _ = shared
    run_id = uuid4()
    tags = ["logger_custom_id:legacy"]
    logger.on_agent_action(AgentAction("search", "cats", "thinking"), run_id=run_id, tags=tags)
    logger.on_agent_finish(AgentFinish({"output": "done"}, "log"), run_id=run_id, tags=tags)
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = 2
    state.set_exception((TimeoutError, TimeoutError("slow"), None))
    logger.on_retry(state, run_id=run_id, tags=tags)
    logger.on_text("hello", run_id=run_id, tags=tags)
    df = rows_of(shared, "legacy")
    assert df["event_type"].tolist() == ["agent_action", "agent_finish", "retry", "text"]
    action = payload(df.iloc[0])
    assert action["data"]["action"] == {"tool": "search", "tool_input": "cats", "log": "thinking"}
    assert action["raw"]["action"]["tool"] == "search"  # the object itself
    finish = payload(df.iloc[1])["data"]["finish"]
    assert finish == {"return_values": {"output": "done"}, "log": "log"}
    retry = payload(df.iloc[2])["data"]
    assert retry["attempt_number"] == 2
    assert retry["error"]["type"] == "TimeoutError"


def test_ignore_flags_follow_event_types(make_logger):
    """LangChain is told not to dispatch what is not recorded."""
    default = make_logger()
    assert not default.ignore_llm
    assert not default.ignore_chat_model
    assert default.ignore_chain
    assert default.ignore_agent
    assert default.ignore_retriever
    tools_only = make_logger(event_types=[EventType.TOOL_END])
    assert not tools_only.ignore_agent
    assert tools_only.ignore_llm
    assert tools_only.ignore_chain


def test_default_logger_records_only_llm_events(make_logger, log_dir):
    """The default event set: model starts and ends, not the chain around them."""
    logger = make_logger()
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | FakeListChatModel(
        responses=["ok"]
    )
    chain.invoke({"q": "x"}, config=with_tags(custom_id="d1", config={"callbacks": [logger]}))
    logger.flush(timeout=30)
    df = read_rows(log_dir)
    assert sorted(df["event_type"]) == ["chat_model_start", "llm_end"]
    assert set(df["custom_id"]) == {"d1"}


def test_handler_swallows_its_own_failures(shared):
    """A broken argument never raises into LangChain; the event is still logged."""
    logger, _ = shared

    class Hostile:
        @property
        def generations(self) -> Any:
            raise RuntimeError("boom")

        def __repr__(self) -> str:
            raise RuntimeError("no repr either")

    run_id = uuid4()
    logger.on_llm_end(Hostile(), run_id=run_id, tags=["logger_custom_id:hostile-end"])
    row = rows_of(shared, "hostile-end").iloc[0]
    assert row["event_type"] == "llm_end"
    assert isinstance(UUID(row["run_id"]), UUID)


def test_log_event_writes_an_own_event_type(shared):
    """log_event: a free event type, custom id and run id, in the standard envelope."""
    logger, _ = shared
    run_id = uuid4()
    assert logger.log_event(
        "background_retrieval_complete",
        {"response_id": "resp_1", "status": "completed"},
        custom_id="own-event",
        run_id=run_id,
    )
    row = rows_of(shared, "own-event").iloc[0]
    assert row["event_type"] == "background_retrieval_complete"
    assert row["run_id"] == str(run_id)
    assert payload(row)["data"] == {"response_id": "resp_1", "status": "completed"}
    with pytest.raises(ValueError, match="event_type"):
        logger.log_event("../escape", {})


def test_payload_timestamp_is_the_column_timestamp(make_logger, log_dir):
    """One clock read per event: the payload's timestamp equals the column, in every row; a
    start row's timestamp is its run's start_time in the end row."""
    logger = make_logger(event_types=list(EventType))
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | FakeListChatModel(
        responses=["a", "b"]
    )
    for i in range(40):  # 240 rows: a 1 us disagreement in half of them cannot hide
        chain.invoke({"q": str(i)}, config={"callbacks": [logger]})
    logger.flush(timeout=30)
    df = read_rows(log_dir)
    assert len(df) == 40 * 6  # sequence, prompt and model: a start and an end each
    written = [pd.Timestamp(orjson.loads(p)["timestamp"]) for p in df["payload"]]
    assert [pd.Timestamp(t) for t in df["timestamp"]] == written
    starts = df[df["event_type"].str.endswith("_start")].set_index("run_id")["timestamp"]
    ends = df[df["event_type"].str.endswith("_end")].set_index("run_id")["start_time"]
    assert len(starts) == len(ends) == 40 * 3
    assert ends.sort_index().equals(starts.sort_index().rename("start_time"))


def test_a_failing_fact_reader_is_counted_not_raised(make_logger, log_dir, monkeypatch, caplog):
    """The callback guard: a fact extractor that raises never reaches LangChain; the failure is
    counted once and logged once, and the other events are still recorded."""

    def broken(response: Any) -> Any:
        raise RuntimeError("usage reader broke")

    monkeypatch.setattr("parquet_logger.capture.content.llm_end_facts", broken)
    logger = make_logger()
    model = FakeListChatModel(responses=["fine"])
    with caplog.at_level("WARNING", logger="parquet_logger"):
        assert model.invoke("hi", config={"callbacks": [logger]}).content == "fine"
    assert logger.stats()["callback_failures"] == 1
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "usage reader broke" in warnings[0].getMessage()
    logger.flush(timeout=30)
    assert read_rows(log_dir)["event_type"].tolist() == ["chat_model_start"]


def test_every_error_callback_ends_its_run(shared):
    """llm, chain, tool and retriever errors: one row each, joined to the run's start."""
    logger, _ = shared
    tags = ["logger_custom_id:errors"]
    starts = {
        "llm": lambda run_id: logger.on_llm_start({"name": "M"}, ["p"], run_id=run_id, tags=tags),
        "chain": lambda run_id: logger.on_chain_start(None, {"a": 1}, run_id=run_id, tags=tags),
        "tool": lambda run_id: logger.on_tool_start({"name": "T"}, "x", run_id=run_id, tags=tags),
        "retriever": lambda run_id: logger.on_retriever_start(None, "q", run_id=run_id, tags=tags),
    }
    errors = {
        "llm": logger.on_llm_error,
        "chain": logger.on_chain_error,
        "tool": logger.on_tool_error,
        "retriever": logger.on_retriever_error,
    }
    for kind, start in starts.items():
        run_id = uuid4()
        start(run_id)
        errors[kind](ValueError(f"{kind} failed"), run_id=run_id, tags=tags)
    df = rows_of(shared, "errors")
    ends = df[df["event_type"].str.endswith("_error")].set_index("event_type")
    assert sorted(ends.index) == ["chain_error", "llm_error", "retriever_error", "tool_error"]
    assert set(ends["error_type"]) == {"ValueError"}
    assert (ends["latency_ms"] >= 0).all()
    assert ends.loc["tool_error", "run_type"] == "tool"
    assert payload(ends.loc["llm_error"])["data"]["error"]["message"] == "llm failed"
    assert logger.stats()["callback_failures"] == 0
