"""The OpenTelemetry GenAI columns (schema version 2), each from real LangChain runs: a chat
model answering with each provider's recorded response, ChatOpenAI against the fake OpenAI
server, a tool, an agent-like chain, a retriever, a stream and errors; rows read back from
the Parquet files with pandas."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

from parquet_logger import ParquetLogger
from tests import fake_openai
from tests.genai_models import RecordedChatModel, provider_responses

ALL_EVENTS = [
    "chat_model_start",
    "llm_end",
    "llm_error",
    "chain_start",
    "chain_end",
    "chain_error",
    "tool_start",
    "tool_end",
    "tool_error",
    "retriever_start",
    "retriever_end",
]
SHAPES = provider_responses()


def read_back(log_dir: Path) -> pd.DataFrame:
    """Every row, oldest first, as plain pandas reads the directory."""
    return pd.read_parquet(log_dir).sort_values(["timestamp", "event_id"]).reset_index(drop=True)


def one(frame: pd.DataFrame, event_type: str) -> pd.Series:
    picked = frame[frame["event_type"] == event_type]
    assert len(picked) == 1, f"{len(picked)} {event_type} rows"
    return picked.iloc[0]


def value(cell: Any) -> Any:
    """A cell as a plain value (None for pandas' missing markers; lists as lists)."""
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return None
    if hasattr(cell, "tolist"):
        return cell.tolist()
    return cell


@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_provider_shape_fills_the_columns(make_logger, log_dir, shape):
    """A chat model answering with the provider's recorded response: the llm_end row holds
    the documented tokens, finish reasons, ids, models and request parameters."""
    logger = make_logger()
    model = RecordedChatModel.of(SHAPES[shape])
    model.invoke("hello", config={"callbacks": [logger]})
    logger.flush(timeout=30)
    rows = read_back(log_dir)
    end, start = one(rows, "llm_end"), one(rows, "chat_model_start")
    expected = SHAPES[shape]["expected"]
    for column, wanted in expected.items():
        assert value(end[column]) == wanted, f"{shape}: {column}"
    assert end["operation"] == start["operation"] == "chat"
    assert start["provider"] == expected["provider"]
    assert value(start["request_model"]) == expected["request_model"]
    assert value(start["response_model"]) is None  # known at the end only
    assert end["trace_id"] == start["trace_id"] == start["run_id"].replace("-", "")
    assert end["root_run_id"] == start["run_id"]
    assert end["start_time"] == start["timestamp"]  # one clock read: the run's start
    assert pd.isna(start["start_time"])
    assert value(end["time_to_first_token_ms"]) is None  # not streamed


def test_token_columns_are_nullable_integers_in_pandas(make_logger, log_dir):
    """pandas reads the directory's integer columns as Int64 (nulls stay <NA>, not NaN)."""
    logger = make_logger(event_types=ALL_EVENTS)
    RecordedChatModel.of(SHAPES["anthropic_messages"]).invoke("hi", config={"callbacks": [logger]})
    logger.flush(timeout=30)
    rows = read_back(log_dir)
    for column in (
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "reasoning_output_tokens",
        "max_tokens",
        "pid",
    ):
        assert str(rows[column].dtype) == "Int64", column
    assert one(rows, "chat_model_start")["input_tokens"] is pd.NA
    assert one(rows, "llm_end")["input_tokens"] == 2112


@pytest.fixture
def fake() -> Any:
    yield from fake_openai.running()


def test_chat_openai_against_the_fake_server(make_logger, log_dir, fake, monkeypatch):
    """ChatOpenAI (langchain-openai and the openai client, unmocked) with usage details in
    the server's answer: LangChain's usage_metadata and response_metadata reach the row."""
    from langchain_openai import ChatOpenAI

    fake.usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0},
    }
    logger = make_logger()
    model = ChatOpenAI(
        model="gpt-4o-mini",
        temperature=0.2,
        max_tokens=77,  # type: ignore[call-arg]  # an alias of max_completion_tokens
        base_url=fake.base_url,
        api_key="sk-test-key",  # type: ignore[arg-type]
        max_retries=0,
    )
    model.invoke("what is up", config={"callbacks": [logger]})
    logger.flush(timeout=30)
    end = one(read_back(log_dir), "llm_end")
    assert end["provider"] == "openai"
    assert end["request_model"] == end["response_model"] == "gpt-4o-mini"
    assert (end["input_tokens"], end["output_tokens"], end["total_tokens"]) == (2006, 300, 2306)
    assert end["cache_read_input_tokens"] == 1920
    assert end["reasoning_output_tokens"] == 128
    assert value(end["finish_reasons"]) == ["stop"]
    assert end["response_id"].startswith("chatcmpl-")
    assert end["temperature"] == 0.2
    assert end["max_tokens"] == 77


def test_a_stream_has_its_time_to_first_token(make_logger, log_dir):
    """A streamed run: the first token's time since the start (the first token row's time),
    the usage of the last chunk; with token events not recorded (the default) as with them
    recorded."""
    for event_types in (None, ["chat_model_start", "llm_new_token", "llm_end"]):
        logger = make_logger(event_types=event_types)
        model = RecordedChatModel.of(SHAPES["openai_chat_completions_usage_metadata"])
        model.text = "one two three four"
        chunks = list(model.stream("count", config={"callbacks": [logger]}))
        assert "".join(str(c.content) for c in chunks) == "one two three four"
        logger.flush(timeout=30)
        logger.close()
    rows = read_back(log_dir)
    ends = rows[rows["event_type"] == "llm_end"]
    assert len(ends) == 2
    for _, end in ends.iterrows():
        assert 0 < end["time_to_first_token_ms"] <= end["latency_ms"]
        assert (end["input_tokens"], end["cache_read_input_tokens"]) == (1200, 1024)
        assert value(end["finish_reasons"]) == ["length"]
    tokens = rows[rows["event_type"] == "llm_new_token"]
    assert len(tokens) >= 5  # a token event per chunk (LangChain may add a closing one)
    assert tokens["time_to_first_token_ms"].isna().all()
    assert (tokens["operation"] == "chat").all()
    # The first token's row is stamped at the instant time_to_first_token_ms measures.
    streamed = ends[ends["run_id"].isin(tokens["run_id"])].iloc[0]
    first = tokens.loc[tokens["run_id"] == streamed["run_id"], "timestamp"].min()
    since_start_ms = (first - streamed["start_time"]).total_seconds() * 1000
    assert abs(since_start_ms - streamed["time_to_first_token_ms"]) < 0.001  # both in whole us


def test_a_tool_run(make_logger, log_dir):
    @tool
    def word_count(text: str) -> int:
        """Count the words of a text."""
        return len(text.split())

    logger = make_logger(event_types=ALL_EVENTS)
    assert word_count.invoke({"text": "a b c"}, config={"callbacks": [logger]}) == 3
    logger.flush(timeout=30)
    rows = read_back(log_dir)
    start, end = one(rows, "tool_start"), one(rows, "tool_end")
    for row in (start, end):
        assert row["operation"] == "execute_tool"
        assert row["tool_name"] == "word_count"
        assert row["trace_id"] == start["run_id"].replace("-", "")
        assert value(row["provider"]) is None
        assert value(row["input_tokens"]) is None
    assert not pd.isna(end["start_time"])


class Shelf(BaseRetriever):
    """A retriever over two fixed documents."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [Document(page_content=f"{query} one"), Document(page_content=f"{query} two")]


def test_an_agent_like_chain_is_one_trace(make_logger, log_dir):
    """An agent-like chain that retrieves, asks a model and calls a tool: every row shares the
    root's trace; the outer chain is the workflow, the agent chain `invoke_agent`, the steps
    their operations, nested plain chains none."""

    @tool
    def lookup(term: str) -> str:
        """Look a term up."""
        return f"{term}: found"

    model = RecordedChatModel.of(SHAPES["anthropic_messages_usage_metadata"])
    shelf = Shelf()

    def act(question: str) -> str:
        docs = shelf.invoke(question)
        answer = model.invoke(f"{question} {len(docs)}")
        return lookup.invoke({"term": str(answer.content)})

    agent = RunnableLambda(act).with_config(run_name="AgentExecutor")
    workflow = RunnableLambda(lambda q: q.strip()) | agent
    logger = make_logger(event_types=ALL_EVENTS)
    assert workflow.invoke(" why ", config={"callbacks": [logger]}).endswith("found")
    logger.flush(timeout=30)
    rows = read_back(log_dir)
    root = rows[rows["parent_run_id"] == ""]
    assert len(root) == 2  # its start and end
    root_id = root.iloc[0]["run_id"]
    assert (rows["trace_id"] == root_id.replace("-", "")).all()
    assert (rows["root_run_id"] == root_id).all()
    starts = rows[rows["event_type"].str.endswith("_start")].set_index("name")
    assert starts.loc["RunnableSequence", "operation"] == "invoke_workflow"
    assert starts.loc["AgentExecutor", "operation"] == "invoke_agent"
    assert starts.loc["Shelf", "operation"] == "retrieval"
    assert starts.loc["RecordedChatModel", "operation"] == "chat"
    assert starts.loc["lookup", "operation"] == "execute_tool"
    assert starts.loc["lookup", "tool_name"] == "lookup"
    assert pd.isna(starts.loc["RunnableLambda", "operation"])
    retriever_end = one(rows, "retriever_end")
    assert not pd.isna(retriever_end["start_time"])
    assert retriever_end["operation"] == "retrieval"


def test_llm_rows_in_an_unlogged_chain_are_rooted_at_its_run(make_logger, log_dir):
    """With the default (LLM) events the chain around a model is not logged: the model's
    rows are rooted at that chain's run id, as `read.runs` roots them."""
    logger = make_logger()
    model = RecordedChatModel.of(SHAPES["openai_chat_completions"])
    chain = RunnableLambda(lambda q: q) | model
    chain.invoke("x", config={"callbacks": [logger]})
    logger.flush(timeout=30)
    rows = read_back(log_dir)
    assert set(rows["event_type"]) == {"chat_model_start", "llm_end"}
    parent = rows.iloc[0]["parent_run_id"]
    assert parent
    assert (rows["root_run_id"] == parent).all()
    assert (rows["trace_id"] == parent.replace("-", "")).all()


@pytest.mark.parametrize("streamed", [False, True])
def test_errors_have_start_time_and_trace(make_logger, log_dir, streamed):
    logger = make_logger(event_types=ALL_EVENTS)
    model = RecordedChatModel.of(SHAPES["anthropic_messages"], fail="provider overloaded")
    chain = RunnableLambda(lambda q: q) | model
    config: Any = {"callbacks": [logger]}
    run = (lambda: list(chain.stream("x", config=config))) if streamed else None
    with pytest.raises(RuntimeError, match="overloaded"):
        run() if run is not None else chain.invoke("x", config=config)
    logger.flush(timeout=30)
    rows = read_back(log_dir)
    error, start = one(rows, "llm_error"), one(rows, "chat_model_start")
    assert error["error_type"] == "RuntimeError"
    assert error["operation"] == "chat"
    assert error["provider"] == "anthropic"
    assert error["request_model"] == "claude-sonnet-4-5"
    assert error["max_tokens"] == 1024
    assert error["start_time"] == start["timestamp"]
    assert error["trace_id"] == start["trace_id"] == one(rows, "chain_error")["trace_id"]
    if streamed:
        assert 0 < error["time_to_first_token_ms"] <= error["latency_ms"]
    else:
        assert pd.isna(error["time_to_first_token_ms"])
    assert not pd.isna(one(rows, "chain_error")["start_time"])


def test_free_text_columns_are_masked(make_logger: Callable[..., ParquetLogger], log_dir):
    """The response id and models are masked by the user's patterns, like the payload."""
    shape = SHAPES["openai_chat_completions"]
    logger = make_logger(redact_patterns=[r"B9MHDbslfk", r"2024-07-18"])
    RecordedChatModel.of(shape).invoke("x", config={"callbacks": [logger]})
    logger.flush(timeout=30)
    end = one(read_back(log_dir), "llm_end")
    assert end["response_id"] == "chatcmpl-***BeAs8l4bebGdFOJ6PeG"
    assert end["response_model"] == "gpt-4o-mini-***"
    assert "B9MHDbslfk" not in end["payload"]
