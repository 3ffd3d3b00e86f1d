"""The payload's `data`/`raw` layout is the one the package users come from documents (#13):
their notebooks parse it. Real LangChain runnables in, rows read back from Parquet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from parquet_logger import EventType, ParquetLogger, with_tags
from tests.support import read_rows, stop_writer


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ParquetLogger, Path]]:
    path = tmp_path_factory.mktemp("layout") / "logs"
    logger = ParquetLogger(path, event_types=list(EventType))
    yield logger, path
    logger.close()
    stop_writer(path)


def payloads(shared: tuple[ParquetLogger, Path], custom_id: str) -> dict[str, dict[str, Any]]:
    """The payload of each event type of `custom_id` (the first of each)."""
    logger, path = shared
    logger.flush(timeout=30)
    df = read_rows(path)
    df = df[df["custom_id"] == custom_id].sort_values("timestamp")
    found: dict[str, dict[str, Any]] = {}
    for _, row in df.iterrows():
        found.setdefault(row["event_type"], orjson.loads(row["payload"]))
    return found


@tool
def shout(text: str) -> str:
    """Say it louder."""
    return text.upper()


def test_raw_holds_every_argument_at_its_top_level(shared):
    """Positional arguments under their parameter names, keyword arguments as passed (an
    unknown one included), not nested under `kwargs`."""
    logger, _ = shared
    run_id, parent = uuid4(), uuid4()
    tags = ["t1", "logger_custom_id:raw-flat"]
    serialized = {"_type": "openai-chat", "kwargs": {"model_name": "gpt-4"}, "name": "ChatX"}
    logger.on_llm_start(
        serialized,
        ["a prompt"],
        run_id=run_id,
        parent_run_id=parent,
        tags=tags,
        metadata={"user": "u1"},
        extra_kwarg="extra",
    )
    logger.on_llm_error(ValueError("boom"), run_id=run_id, tags=tags, error_context="ctx")
    events = payloads(shared, "raw-flat")
    raw = events["llm_start"]["raw"]
    assert raw["serialized"] == serialized
    assert raw["prompts"] == ["a prompt"]
    assert (raw["run_id"], raw["parent_run_id"]) == (str(run_id), str(parent))
    assert raw["tags"] == tags
    assert raw["metadata"] == {"user": "u1"}
    assert raw["extra_kwarg"] == "extra"
    assert "kwargs" not in raw
    data = events["llm_start"]["data"]
    assert data["llm_type"] == "openai-chat"
    assert data["model"] == "gpt-4"  # from serialized["kwargs"], with no invocation_params
    assert data["invocation_params"] == {"model_name": "gpt-4"}
    assert data["serialized"] == serialized
    error = events["llm_error"]
    assert error["raw"]["error_context"] == "ctx"
    assert error["data"]["error"]["message"] == "boom"
    assert error["data"]["error"]["type"] == "ValueError"


def test_llm_end_keeps_the_result_and_its_metadata_as_given(shared):
    """data.response (the whole result), data.usage (llm_output's token_usage as given),
    data.model, and the first message's usage_metadata and response_metadata."""
    logger, _ = shared
    run_id, tags = uuid4(), ["logger_custom_id:llm-end"]
    message = AIMessage(
        "done",
        usage_metadata={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
        response_metadata={"finish_reason": "stop", "message_level": True},
    )
    result = LLMResult(
        generations=[[ChatGeneration(message=message)]],
        llm_output={"token_usage": {"total": 50}, "model_name": "gpt-4o"},
    )
    logger.on_llm_end(result, run_id=run_id, tags=tags, custom_end_param="v")
    end = payloads(shared, "llm-end")["llm_end"]
    data, raw = end["data"], end["raw"]
    assert data["usage"] == {"total": 50}
    assert data["model"] == "gpt-4o"
    assert data["usage_metadata"]["input_tokens"] == 10
    assert data["response_metadata"]["message_level"] is True
    generation = data["response"]["generations"][0][0]
    assert generation["message"]["content"] == "done"
    assert raw["response"] == data["response"]
    assert raw["custom_end_param"] == "v"
    # Nothing of ours repeats the completion beyond the result itself (data and raw).
    assert end.keys() >= {"data", "raw"}
    assert orjson.dumps(end).count(b'"done"') == 4  # text and content, in data and raw


def test_chain_and_tool_events_name_their_model_and_keep_serialized(shared):
    """A real prompt | model chain and a tool: data.model (the run's name), data.serialized,
    the tool's description, and outputs/output."""
    logger, _ = shared
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | FakeListChatModel(
        responses=["ok"]
    )
    config = with_tags(custom_id="chain-tool")
    config["callbacks"] = [logger]
    chain.invoke({"q": "hi"}, config=config)
    shout.invoke({"text": "hey"}, config=config)
    events = payloads(shared, "chain-tool")
    chain_start = events["chain_start"]["data"]
    assert chain_start["model"] == "RunnableSequence"
    assert chain_start["inputs"] == {"q": "hi"}
    tool_start = events["tool_start"]["data"]
    assert tool_start["model"] == "shout"
    assert tool_start["description"] == "Say it louder."
    assert tool_start["serialized"]["name"] == "shout"
    assert events["tool_end"]["data"]["output"] == "HEY"
    assert events["tool_end"]["raw"]["output"] == "HEY"
    chat_start = events["chat_model_start"]
    assert chat_start["data"]["serialized"] == chat_start["raw"]["serialized"]
    assert chat_start["raw"]["invocation_params"] == chat_start["data"]["invocation_params"]


def test_agent_events_put_the_action_under_data_action(shared):
    logger, _ = shared
    run_id, tags = uuid4(), ["logger_custom_id:agent"]
    logger.on_agent_action(AgentAction("search", "weather", "thinking"), run_id=run_id, tags=tags)
    logger.on_agent_finish(AgentFinish({"answer": "sunny"}, "done"), run_id=run_id, tags=tags)
    events = payloads(shared, "agent")
    assert events["agent_action"]["data"]["action"] == {
        "tool": "search",
        "tool_input": "weather",
        "log": "thinking",
    }
    assert events["agent_action"]["raw"]["action"]["tool_input"] == "weather"
    assert events["agent_finish"]["data"]["finish"]["return_values"] == {"answer": "sunny"}


class Dumpable:
    """Not pydantic, but with a model_dump() (as some SDK objects and users' test doubles)."""

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"mode": mode, "api_key": "sk-should-not-appear-0123456789"}


class DumpableWithoutKeywords:
    def model_dump(self) -> dict[str, Any]:
        return {"plain": True}


def test_objects_with_model_dump_are_written_as_their_dump(shared):
    """An object that is not pydantic but has model_dump() is its dump (mode="json" when
    the method takes it), redacted like any dict; not a `$type/$repr` stub."""
    logger, _ = shared
    run_id, tags = uuid4(), ["logger_custom_id:dumpable"]
    logger.on_chain_end({"a": Dumpable(), "b": DumpableWithoutKeywords()}, run_id=run_id, tags=tags)
    outputs = payloads(shared, "dumpable")["chain_end"]["data"]["outputs"]
    assert outputs["a"] == {"mode": "json", "api_key": "***"}
    assert outputs["b"] == {"plain": True}


def test_a_root_run_has_empty_parent_and_metadata(shared):
    logger, _ = shared
    logger.on_chain_start(
        {"name": "root"}, {"x": 1}, run_id=uuid4(), tags=["logger_custom_id:root"]
    )
    start = payloads(shared, "root")["chain_start"]
    assert start["execution"]["parent_run_id"] == ""
    assert start["execution"]["metadata"] == {}
    assert start["raw"]["parent_run_id"] is None  # as LangChain passed it
