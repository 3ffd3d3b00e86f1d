"""events(), runs() and trace() over real LangChain runs logged by a real ParquetLogger."""

from __future__ import annotations

import pandas as pd

from parquet_logger.read import events, runs, trace
from parquet_logger.transport.statedir import STATE_FOLDER
from tests.read.workload import ALL_EVENTS, PRICED_MODEL, UNPRICED_MODEL, run_workload


def test_runs_join_each_start_with_its_end_or_error(logged):
    """One row per run with status, duration, model, tokens, text, custom id and tags."""
    df = runs(logged)
    assert df["run_id"].is_unique
    by_name = dict(list(df.groupby("name")))
    chain = by_name["RunnableSequence"].iloc[0]
    assert chain["status"] == "ok"
    assert chain["custom_id"] == "q1"
    assert chain["depth"] == 0
    assert chain["trace_id"] == chain["run_id"].replace("-", "")
    assert "logger_custom_id:q1" in list(chain["tags"])
    llm = df[(df["custom_id"] == "q1") & (df["run_type"] == "chat_model")].iloc[0]
    assert llm["operation"] == "chat"
    assert llm["model"] == PRICED_MODEL
    assert (llm["input_tokens"], llm["output_tokens"], llm["total_tokens"]) == (1000, 200, 1200)
    assert llm["cache_read_input_tokens"] == 400
    assert llm["parent_run_id"] == chain["run_id"]
    assert llm["depth"] == 1
    assert llm["trace_id"] == chain["trace_id"]
    assert llm["input_text"] == "human: What is the capital of France?"
    assert llm["output_text"] == "Paris is the capital."
    assert llm["duration_ms"] > 0
    assert llm["end_time"] >= llm["start_time"]
    tool = by_name["lookup_order"].iloc[0]
    assert (tool["operation"], tool["status"], tool["output_text"]) == (
        "execute_tool",
        "ok",
        "order 7: shipped",
    )
    failed = df[df["custom_id"] == "q3"].iloc[0]
    assert failed["status"] == "error"
    assert failed["error_type"] == "TimeoutError"
    assert failed["error_message"] == "the provider did not answer in time"
    assert df[df["custom_id"] == "q2"].iloc[0]["model"] == UNPRICED_MODEL
    streamed = df[df["custom_id"] == "q4"].iloc[0]
    assert streamed["output_text"] == "one two three"
    assert 0 <= streamed["time_to_first_token_ms"] <= streamed["duration_ms"]
    assert streamed["events"] > 3  # start, a token per chunk, end


def test_runs_have_nullable_integer_columns(logged):
    """Token counts are Int64 (nulls stay nulls, not NaN floats); times are UTC."""
    df = runs(logged)
    for column in ("input_tokens", "output_tokens", "total_tokens", "events", "pid"):
        assert str(df[column].dtype) == "Int64", column
    tool = df[df["name"] == "lookup_order"].iloc[0]
    assert tool["input_tokens"] is pd.NA
    assert str(df["start_time"].dt.tz) in {"UTC", "Etc/UTC"}


def test_runs_filter_by_custom_id_and_run_type(logged):
    """custom_id and run_types keep only the matching runs."""
    assert set(runs(logged, custom_id="q3")["custom_id"]) == {"q3"}
    chat = runs(logged, run_types="chat_model")
    assert set(chat["run_type"]) == {"chat_model"}
    assert len(chat) == 4


def test_events_filters(logged):
    """events() keeps event types, custom ids and a time window; payload is optional."""
    every = events(logged)
    assert every["event_id"].is_unique
    assert list(every["timestamp"]) == sorted(every["timestamp"])
    ends = events(logged, event_types=["llm_end", "llm_error"], payload=False)
    assert set(ends["event_type"]) == {"llm_end", "llm_error"}
    assert "payload" not in ends.columns
    assert str(ends["input_tokens"].dtype) == "Int64"
    q1 = events(logged, custom_id="q1")
    assert set(q1["custom_id"]) == {"q1"}
    middle = every["timestamp"].iloc[len(every) // 2]
    later = events(logged, since=middle.to_pydatetime())
    assert len(later) == (every["timestamp"] >= middle).sum()
    earlier = events(logged, until=middle.isoformat())
    assert len(earlier) + len(later) == len(every)


def test_trace_is_the_run_tree(logged):
    """trace() of any member run gives the whole tree, depth-first, and draws it."""
    df = runs(logged)
    llm = df[(df["custom_id"] == "q1") & (df["run_type"] == "chat_model")].iloc[0]
    tree = trace(logged, llm["run_id"])
    assert list(tree.runs["name"]) == [
        "RunnableSequence",
        "ChatPromptTemplate",
        "GenericFakeChatModel",
        "StrOutputParser",
    ]
    assert list(tree.runs["depth"]) == [0, 1, 1, 1]
    assert tree.trace_id == llm["trace_id"]
    same = trace(logged, llm["trace_id"])
    assert list(same.runs["run_id"]) == list(tree.runs["run_id"])
    text = str(tree)
    assert text.splitlines()[1].startswith("└─ RunnableSequence [chain]  ok")
    assert "   ├─ GenericFakeChatModel [chat_model]  ok" in text
    assert f"{PRICED_MODEL}  1000→200 tokens  $" in text


def test_unknown_run_gives_an_empty_trace(logged):
    """An id that is in no trace: no runs, and the text says so."""
    tree = trace(logged, "not-a-run")
    assert tree.runs.empty
    assert "no runs" in str(tree)


def test_state_folder_and_tmp_files_are_not_read(logged):
    """Files in the state folder and in-flight .tmp files are never read as data."""
    rows = len(events(logged))
    sample = next(p for p in logged.rglob("*.parquet") if STATE_FOLDER not in p.parts)
    (logged / STATE_FOLDER / "copy.parquet").write_bytes(sample.read_bytes())
    (sample.parent / f".{sample.name}.tmp").write_bytes(sample.read_bytes())
    (sample.parent / "stray.parquet.tmp").write_bytes(sample.read_bytes())
    assert len(events(logged)) == rows


def test_a_live_writer_is_flushed_before_reading(make_logger, log_dir):
    """Events logged a moment ago are read without the logger flushing (the read asks the
    writer, whose own interval would hold them for a minute)."""
    logger = make_logger(event_types=ALL_EVENTS, flush_interval_s=60.0)
    run_workload(logger)
    df = runs(log_dir)
    assert set(df["custom_id"].dropna()) == {"q1", "q2", "q3", "q4"}
