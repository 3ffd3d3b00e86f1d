"""retrieve_background_responses against the real openai client and a fake Responses server:
final states, attempts per policy, checkpoint/resume (also after SIGKILL), discovery, scale,
and the parquet-logger-retrieve script."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import openai
import pandas as pd
import pytest

from parquet_logger import ParquetLogger
from parquet_logger.retrieval import cli as retrieval_cli
from parquet_logger.retrieval.api import (
    RESULT_COLUMNS,
    RetrievalAbortedError,
    retrieve_background_responses,
    run_retrieval,
)
from parquet_logger.retrieval.checkpoint import Checkpoint, CheckpointEntry
from parquet_logger.retrieval.client import BackgroundClient
from parquet_logger.retrieval.discovery import find_pending_responses
from parquet_logger.retrieval.options import RetrievalOptions
from parquet_logger.retry_policy import RetryPolicy
from tests.fake_openai_responses import (
    Dropped,
    FakeResponsesServer,
    NotFound,
    Quota,
    RateLimited,
    ServerError,
    Slow,
)
from tests.support import read_rows, wait_for

FAST: dict[str, Any] = {
    "poll_interval_s": 0.02,
    "retry_initial_wait_s": 0.01,
    "show_progress": False,
}
COMPLETE = "background_retrieval_complete"
ERROR = "background_retrieval_error"


@pytest.fixture
async def make_client(server: FakeResponsesServer) -> AsyncIterator[Callable[..., Any]]:
    """Real openai clients on the fake server (AsyncOpenAI, or OpenAI with sync=True);
    closed at teardown, inside the test's event loop."""
    made: list[Any] = []

    def make(sync: bool = False, **kwargs: Any) -> Any:
        cls = openai.OpenAI if sync else openai.AsyncOpenAI
        made.append(cls(api_key="test", base_url=server.base_url, **kwargs))
        return made[-1]

    yield make
    for client in made:
        closed = client.close()
        if inspect.isawaitable(closed):
            await closed


def ids_frame(ids: list[str], **columns: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"response_id": ids, "custom_id": [f"c-{i}" for i in ids], **columns})


def events(log_dir: Path) -> pd.DataFrame:
    rows = read_rows(log_dir)
    rows["data"] = rows["payload"].map(lambda p: json.loads(p)["data"])
    rows["response_id"] = rows["data"].map(lambda d: d.get("response_id"))
    return rows


# Each id: its script, then the status and request count expected with max_retries=3.
SCENARIOS: dict[str, tuple[tuple[Any, ...], str, int]] = {
    "polled": (("queued", "in_progress", "completed"), "completed", 3),
    "rate_limited": (
        (RateLimited(retry_after_ms=10), ServerError(503), "completed"),
        "completed",
        3,
    ),
    "dropped": ((Dropped(), "failed"), "failed", 2),
    "slow": ((Slow(1.0), "completed"), "completed", 2),
    "incomplete": (("in_progress", "incomplete"), "incomplete", 2),
    "cancelled": (("cancelled",), "cancelled", 1),
    "not_found": ((NotFound(),), "failed", 1),
    "always_500": ((ServerError(),), "failed", 4),
    "stuck": (("queued",), "timeout", -1),
}


@pytest.mark.parametrize("sync", [False, True], ids=["AsyncOpenAI", "OpenAI"])
async def test_every_response_ends_in_its_state_with_the_attempts_of_the_policy(
    server: FakeResponsesServer,
    make_client: Callable[..., Any],
    make_logger: Callable[..., ParquetLogger],
    log_dir: Path,
    sync: bool,
) -> None:
    """Final status per scenario; requests at the server = our attempts (SDK retries off)."""
    for rid, (script, _, _) in SCENARIOS.items():
        server.add(rid, *script)
    client = make_client(sync=sync, max_retries=5)
    logger = make_logger()
    results = await retrieve_background_responses(
        ids_frame(list(SCENARIOS)), client, logger, timeout=0.5, max_wait_s=1.5, **FAST
    )
    assert results is not None
    assert tuple(results.columns) == RESULT_COLUMNS
    got = results.set_index("response_id")
    for rid, (_, status, requests) in SCENARIOS.items():
        assert got.loc[rid, "status"] == status, rid
        assert got.loc[rid, "attempts"] == server.requests(rid), rid
        if requests > 0:
            assert server.requests(rid) == requests, rid
    assert got.loc["polled", "output_text"] == "answer for polled"
    assert json.loads(got.loc["polled", "openai_response"])["status"] == "completed"
    assert "max_output_tokens" in got.loc["incomplete", "error"]

    logger.flush()
    rows = events(log_dir)
    final = rows[rows["event_type"].isin([COMPLETE, ERROR])]
    assert final.groupby("response_id").size().to_dict() == dict.fromkeys(SCENARIOS, 1)
    assert set(final.loc[final["event_type"] == COMPLETE, "response_id"]) == {
        "polled",
        "rate_limited",
        "slow",
    }
    assert set(rows["custom_id"]) == {f"c-{rid}" for rid in SCENARIOS}
    retryable = {
        r["response_id"]: r["data"]["retryable"]
        for _, r in final.iterrows()
        if r["event_type"] == ERROR
    }
    assert retryable == {
        "always_500": True,
        "stuck": True,
        "not_found": False,
        "dropped": False,
        "incomplete": False,
        "cancelled": False,
    }
    pending = rows[rows["event_type"] == "background_retrieval_pending"]
    assert (pending["response_id"] == "polled").sum() == 2


async def test_retry_after_in_seconds_is_honoured(
    server: FakeResponsesServer, make_client: Callable[..., Any]
) -> None:
    """A 429 with `Retry-After: 1` is retried once, after asking for a wait of one second."""
    server.add("r", RateLimited(retry_after_ms=None, retry_after_s=1), "completed")
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(max_retries=3, initial_wait_s=0.01, max_wait_s=30.0)
    client = BackgroundClient(make_client(), 1, 5.0, policy, sleep=record)
    try:
        response, requests = await client.retrieve("r", time.monotonic() + 30)
    finally:
        await client.aclose()
    assert response.status == "completed"
    assert requests == 2
    assert waits == [1.0]  # the hint, not the 0.01 s back-off
    assert server.requests("r") == 2


async def test_a_409_conflict_is_retried_like_the_sdk_does(
    server: FakeResponsesServer, make_client: Callable[..., Any]
) -> None:
    """409 from the server: retried (openai's own policy), then the response completes."""
    server.add("c", ServerError(409), "completed")
    results = await retrieve_background_responses(ids_frame(["c"]), make_client(), **FAST)
    assert results is not None
    assert results["status"].tolist() == ["completed"]
    assert server.requests("c") == 2


@pytest.mark.parametrize("max_retries", [0, 1])
async def test_max_retries_bounds_the_requests(
    server: FakeResponsesServer, make_client: Callable[..., Any], max_retries: int
) -> None:
    """A response that always fails with 500 gets exactly 1 + max_retries requests."""
    server.add("r", ServerError())
    results = await retrieve_background_responses(
        ids_frame(["r"]), make_client(max_retries=4), max_retries=max_retries, **FAST
    )
    assert results is not None
    assert results["status"].tolist() == ["failed"]
    assert server.requests("r") == 1 + max_retries


async def test_insufficient_quota_stops_the_job_without_retries(
    server: FakeResponsesServer, make_client: Callable[..., Any], tmp_path: Path
) -> None:
    """429 insufficient_quota: one request, the job stops, the id stays pending for a rerun."""
    server.add("q", Quota())
    ckpt = tmp_path / "ckpt.jsonl"
    with pytest.raises(RetrievalAbortedError, match="insufficient_quota"):
        await retrieve_background_responses(
            ids_frame(["q"]), make_client(), checkpoint_file=ckpt, **FAST
        )
    assert server.requests("q") == 1
    assert not Checkpoint(ckpt).entries["q"].done


async def test_input_errors(server: FakeResponsesServer, make_client: Callable[..., Any]) -> None:
    """Missing id column: ValueError naming it; duplicates fetched once; no custom ids: warning."""
    server.add("a", "completed")
    with pytest.raises(ValueError, match="'rid'"):
        await retrieve_background_responses(
            ids_frame(["a"]), make_client(), response_id_col="rid", **FAST
        )
    with pytest.raises(ValueError, match="batch_size"):
        await retrieve_background_responses(ids_frame(["a"]), make_client(), batch_size=0, **FAST)
    with pytest.warns(UserWarning, match="custom_id"):
        results = await retrieve_background_responses(
            pd.DataFrame({"response_id": ["a", "a", "a"]}), make_client(), **FAST
        )
    assert results is not None
    assert results[["response_id", "custom_id"]].values.tolist() == [["a", ""]]
    assert server.requests("a") == 1


async def test_events_join_the_run_that_created_the_response(
    server: FakeResponsesServer,
    make_client: Callable[..., Any],
    make_logger: Callable[..., ParquetLogger],
    log_dir: Path,
) -> None:
    """With a run_id column, every retrieval event carries that run id and custom id."""
    server.add("a", "queued", "completed")
    run_id = uuid.uuid4()
    logger = make_logger()
    frame = ids_frame(["a"], run_id=[str(run_id)])
    await retrieve_background_responses(frame, make_client(), logger, **FAST)
    logger.flush()
    rows = events(log_dir)
    assert sorted(rows["event_type"]) == sorted(
        ["background_retrieval_attempt", "background_retrieval_pending", COMPLETE]
    )
    assert set(rows["run_id"]) == {str(run_id)}
    assert set(rows["custom_id"]) == {"c-a"}


async def test_resume_skips_finished_and_retries_transient(
    server: FakeResponsesServer, make_client: Callable[..., Any], tmp_path: Path
) -> None:
    """A rerun from the checkpoint fetches only what did not finish; counts include the rest."""
    server.add("done", "completed")
    server.add("failed", "failed")
    server.add("flaky", ServerError(), "completed")
    ckpt = tmp_path / "ckpt.jsonl"
    frame = ids_frame(["done", "failed", "flaky"])
    options = RetrievalOptions(checkpoint_file=ckpt, max_retries=0, **FAST)
    _, counts = await run_retrieval(frame, make_client(), None, options)
    assert counts == {"completed": 1, "failed": 2}  # "flaky" failed, retryable
    second, counts = await run_retrieval(frame, make_client(), None, options)
    assert counts == {"completed": 2, "failed": 1}
    assert second is not None
    assert second.set_index("response_id")["attempts"].to_dict() == {
        "done": 0,
        "failed": 0,
        "flaky": 1,
    }
    assert [server.requests(r) for r in ("done", "failed", "flaky")] == [1, 1, 2]


def test_checkpoint_appends_in_constant_cost_and_drops_a_torn_line(tmp_path: Path) -> None:
    """Each append adds exactly its own line; a cut-off last line is removed on open."""
    path = tmp_path / "ckpt.jsonl"
    ckpt = Checkpoint(path)
    sizes = []
    for i in range(300):
        ckpt.append([(f"resp_{i:05d}", CheckpointEntry("completed", "completed"))])
        sizes.append(path.stat().st_size)
    ckpt.close()
    steps = {b - a for a, b in itertools.pairwise(sizes)}
    assert len(steps) == 1  # the same bytes per entry, first or three-hundredth
    with open(path, "ab") as f:
        f.write(b'{"id": "resp_torn", "sta')
    reopened = Checkpoint(path)
    assert len(reopened.entries) == 300
    assert "resp_torn" not in reopened.entries
    reopened.close()
    assert path.read_bytes().endswith(b"\n")


def test_a_parquet_checkpoint_of_the_old_package_is_converted(tmp_path: Path) -> None:
    """The old package's Parquet checkpoint resumes: ok ids are done, errored ids retried."""
    path = tmp_path / "ckpt.parquet"
    pd.DataFrame(
        {"response_id": ["a", "b"], "processed": [True, True], "error": [None, "boom"]}
    ).to_parquet(path)
    ckpt = Checkpoint(path)
    assert ckpt.entries["a"].done
    assert not ckpt.entries["b"].done
    ckpt.close()


async def test_an_unsure_final_event_is_settled_from_the_log(
    server: FakeResponsesServer,
    make_client: Callable[..., Any],
    make_logger: Callable[..., ParquetLogger],
    log_dir: Path,
    tmp_path: Path,
) -> None:
    """A crash between the checkpoint's `logging` line and its outcome: the log decides."""
    logger = make_logger()
    logger.log_event(COMPLETE, {"response_id": "logged", "status": "completed"}, custom_id="x")
    ckpt = tmp_path / "ckpt.jsonl"
    lines = [{"id": rid, "state": "logging"} for rid in ("logged", "not_logged")]
    ckpt.write_text("".join(json.dumps(line) + "\n" for line in lines))
    server.add("logged", "completed")
    server.add("not_logged", "completed")
    results = await retrieve_background_responses(
        ids_frame(["logged", "not_logged"]),
        make_client(),
        logger,
        checkpoint_file=ckpt,
        **FAST,
    )
    assert results is not None
    assert results["status"].tolist() == ["completed", "completed"]
    assert (server.requests("logged"), server.requests("not_logged")) == (0, 1)
    logger.flush()
    rows = events(log_dir)
    complete = rows[rows["event_type"] == COMPLETE]
    assert complete.groupby("response_id").size().to_dict() == {"logged": 1, "not_logged": 1}
    assert Checkpoint(ckpt).entries["logged"].done


@pytest.mark.parametrize(
    "partition_on", ["date", "event_type", ["date", "event_type"], None], ids=str
)
async def test_discovery_finds_queued_responses_without_a_final_event(
    server: FakeResponsesServer,
    make_client: Callable[..., Any],
    make_logger: Callable[..., ParquetLogger],
    log_dir: Path,
    partition_on: Any,
) -> None:
    """df=None: the ids queued in the log and not yet final are fetched, and only those."""
    logger = make_logger(partition_on=partition_on)
    run_ids = {rid: uuid.uuid4() for rid in ("new", "done", "transient", "dead")}
    for rid, run_id in run_ids.items():
        logger.log_event(
            "background_retrieval_queued", {"response_id": rid}, custom_id=f"c-{rid}", run_id=run_id
        )
    logger.log_event(COMPLETE, {"response_id": "done", "status": "completed"})
    logger.log_event(ERROR, {"response_id": "transient", "retryable": True})
    logger.log_event(ERROR, {"response_id": "dead", "retryable": False})
    logger.log_event("llm_end", {"response_id": "not_a_retrieval_event"})
    logger.flush()

    pending = find_pending_responses(log_dir)
    assert sorted(pending["response_id"]) == ["new", "transient"]
    assert pending.set_index("response_id").loc["new", "run_id"] == str(run_ids["new"])

    for rid in ("new", "transient"):
        server.add(rid, "completed")
    results = await retrieve_background_responses(None, make_client(), logger, **FAST)
    assert results is not None
    assert sorted(results["response_id"]) == ["new", "transient"]
    assert server.total_requests() == 2
    logger.flush()
    rows = events(log_dir)
    mine = rows[(rows["event_type"] == COMPLETE) & (rows["response_id"] == "new")]
    assert mine["run_id"].tolist() == [str(run_ids["new"])]
    assert find_pending_responses(log_dir).empty


KILLABLE = textwrap.dedent(
    """
    import asyncio, sys
    import openai, pandas as pd
    from parquet_logger import ParquetLogger
    from parquet_logger.retrieval import cli as retrieval_cli
    from parquet_logger.retrieval.api import retrieve_background_responses

    base_url, log_dir, ckpt, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ids = [f"resp_{i:03d}" for i in range(n)]
    df = pd.DataFrame({"response_id": ids, "custom_id": ids})
    logger = ParquetLogger(log_dir=log_dir)
    client = openai.AsyncOpenAI(api_key="test", base_url=base_url)
    asyncio.run(retrieve_background_responses(
        df, client, logger, batch_size=4, poll_interval_s=0.01, checkpoint_file=ckpt,
        return_results=False, show_progress=False))
    logger.close()
    """
)


def test_sigkilled_half_way_then_resumed_logs_each_completion_once(
    server: FakeResponsesServer, log_dir: Path, tmp_path: Path
) -> None:
    """SIGKILL mid-run, rerun from the checkpoint: one complete event per response, and the
    responses checkpointed before the kill are not fetched again."""
    n = 40
    for i in range(n):
        server.add(f"resp_{i:03d}", "in_progress", Slow(0.05, "completed"))
    script = tmp_path / "retrieve.py"
    script.write_text(KILLABLE)
    ckpt = tmp_path / "ckpt.jsonl"
    args = [sys.executable, str(script), server.base_url, str(log_dir), str(ckpt), str(n)]

    def finished_lines() -> int:
        text = ckpt.read_text() if ckpt.exists() else ""
        return text.count('"state":"completed"')

    proc = subprocess.Popen(args)
    try:
        wait_for(lambda: finished_lines() >= n // 3, 30, "a third of the responses")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    done_before = {rid for rid, e in Checkpoint(ckpt).entries.items() if e.done}
    assert n // 3 <= len(done_before) < n
    requests_before = {rid: server.requests(rid) for rid in done_before}

    subprocess.run(args, check=True, timeout=60)
    assert {rid: server.requests(rid) for rid in done_before} == requests_before
    rows = events(log_dir)
    complete = rows[rows["event_type"] == COMPLETE]
    counts = complete.groupby("response_id").size()
    assert len(counts) == n
    assert set(counts) == {1}, counts[counts != 1]
    assert set(complete["custom_id"]) == set(counts.index)


SCALE_N = int(os.environ.get("RETRIEVAL_SCALE_N", "2000"))
SMALL_N = 300

# Run in a fresh process, against the test's server: the traced peak counts only this
# program's allocations (not the server thread's, nor what earlier tests left behind).
# Garbage is collected every 50 ms while measuring: otherwise the peak also counts cyclic
# garbage (tenacity's per-request state) that CPython lets grow with the live heap, which
# itself grows with the number of ids (the input's refs), and the test would measure the gc.
MEASURE = textwrap.dedent(
    """
    import asyncio, gc, json, sys, tracemalloc
    import openai, pandas as pd
    from parquet_logger.retrieval.api import run_retrieval
    from parquet_logger.retrieval.options import RetrievalOptions

    base_url, ckpt_dir, small, large = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    async def collect_garbage():
        while True:
            await asyncio.sleep(0.05)
            gc.collect()

    async def peak_bytes(client, tag, n, return_results):
        ids = [f"{tag}_{i}" for i in range(n)]
        df = pd.DataFrame({"response_id": ids, "custom_id": ids})
        options = RetrievalOptions(
            return_results=return_results, checkpoint_file=f"{ckpt_dir}/{tag}.jsonl",
            poll_interval_s=0.02, retry_initial_wait_s=0.01, show_progress=False)
        gc.collect()
        tracemalloc.start()
        collector = asyncio.create_task(collect_garbage())
        try:
            results, counts = await run_retrieval(df, client, None, options)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            collector.cancel()
            tracemalloc.stop()
        assert counts == {"completed": n}, counts
        assert (results is None) is not return_results
        return peak

    async def main():
        client = openai.AsyncOpenAI(api_key="test", base_url=base_url)
        await peak_bytes(client, "warm", 200, False)  # the client's and pandas' caches fill
        peaks = {
            "small": await peak_bytes(client, "small", small, False),
            "large": await peak_bytes(client, "large", large, False),
            "results": await peak_bytes(client, "results", large, True),
        }
        await client.close()
        print(json.dumps(peaks))

    asyncio.run(main())
    """
)


def test_many_responses_without_results_in_bounded_memory(tmp_path: Path) -> None:
    """With return_results=False the traced peak barely grows with the number of ids (only
    the input's refs do); keeping results costs several times more per id."""
    server = FakeResponsesServer(default=("completed",)).start()
    script = tmp_path / "measure.py"
    script.write_text(MEASURE)
    args = [sys.executable, str(script), server.base_url, str(tmp_path), str(SMALL_N), str(SCALE_N)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=100)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    peaks = json.loads(done.stdout)
    assert server.total_requests() == 200 + SMALL_N + 2 * SCALE_N
    assert len(Checkpoint(tmp_path / "large.jsonl").entries) == SCALE_N
    grown = SCALE_N - SMALL_N
    flat_per_id = (peaks["large"] - peaks["small"]) / grown
    kept_per_id = (peaks["results"] - peaks["small"]) / grown
    sys.stderr.write(f"per id: {flat_per_id:.0f} B without results, {kept_per_id:.0f} B with\n")
    assert kept_per_id > 1000, peaks  # the measurement does see per-response state
    # About 300 B on a quiet machine (the input's ResponseRef, nothing kept); up to ~600 B
    # seen under load (the garbage collector runs later). Kept results cost over 2,000 B.
    assert flat_per_id < 1000, peaks
    assert flat_per_id < kept_per_id / 2, peaks


async def test_progress_bar_is_silent_with_tqdm_disable(
    server: FakeResponsesServer,
    make_client: Callable[..., Any],
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """show_progress=True draws nothing when TQDM_DISABLE is set."""
    server.add("a", "completed")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    await retrieve_background_responses(ids_frame(["a"]), make_client())
    assert capfd.readouterr().err == ""


def test_console_script_exit_code(
    server: FakeResponsesServer, log_dir: Path, tmp_path: Path
) -> None:
    """parquet-logger-retrieve exits 0 when every response completed and 1 when one failed;
    results and checkpoint are written."""
    server.add("ok", "queued", "completed")
    server.add("bad", "failed")
    env = {
        **os.environ,
        "OPENAI_API_KEY": "test",
        "OPENAI_BASE_URL": server.base_url,
        "TQDM_DISABLE": "1",
    }

    def run(ids: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
        source = tmp_path / f"in-{'-'.join(ids)}.csv"
        ids_frame(ids).to_csv(source, index=False)
        cmd = [
            sys.executable,
            "-m",
            "parquet_logger.retrieval.cli",
            "--input",
            str(source),
            "--dir",
            str(log_dir),
            "--poll-interval-s",
            "0.02",
            "--no-progress",
            *extra,
        ]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)

    output = tmp_path / "out.parquet"
    good = run(["ok"], "--output", str(output), "--checkpoint", str(tmp_path / "c.jsonl"))
    assert good.returncode == 0, good.stderr
    assert pd.read_parquet(output)["status"].tolist() == ["completed"]
    failed = run(["ok", "bad"], "--checkpoint", str(tmp_path / "c.jsonl"))
    assert failed.returncode == 1, failed.stderr
    assert "failed 1" in failed.stderr
    assert server.requests("ok") == 2  # the rerun took "ok" from the checkpoint


def test_console_script_bad_usage_exits_2(
    log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad option value or input file: exit code 2 and a message naming it."""
    source = tmp_path / "in.csv"
    ids_frame(["a"]).to_csv(source, index=False)
    common = ["--dir", str(log_dir), "--no-progress", "--input"]
    assert retrieval_cli.main([*common, str(source), "--batch-size", "0"]) == 2
    assert "batch_size" in capsys.readouterr().err
    assert retrieval_cli.main([*common, str(tmp_path / "in.txt")]) == 2
    assert "--input" in capsys.readouterr().err


def test_console_script_stops_on_sigterm_and_keeps_its_checkpoint(
    server: FakeResponsesServer, log_dir: Path, tmp_path: Path
) -> None:
    """SIGTERM: the script stops within seconds with exit code 4; what finished is
    checkpointed, and what was still pending is not."""
    server.add("quick", "completed")
    server.add("stuck", "queued")
    source = tmp_path / "in.parquet"
    ids_frame(["quick", "stuck"]).to_parquet(source)
    ckpt = tmp_path / "c.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": "test", "OPENAI_BASE_URL": server.base_url}
    cmd = [sys.executable, "-m", "parquet_logger.retrieval.cli", "--input", str(source),
           "--dir", str(log_dir), "--checkpoint", str(ckpt), "--poll-interval-s", "0.05",
           "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: server.requests("stuck") >= 3 and ckpt.exists(), 30, "polling")
        wait_for(lambda: '"quick"' in ckpt.read_text(), 30, "the checkpoint of 'quick'")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 4, stderr
    entries = Checkpoint(ckpt).entries
    assert entries["quick"].done
    assert "stuck" not in entries


async def test_config_objects_of_the_old_package_are_read(
    server: FakeResponsesServer, make_client: Callable[..., Any]
) -> None:
    """RetrievalConfig/ColumnConfig of langchain-callback-parquet-logger drive the run."""
    seed: Any = importlib.import_module("langchain_callback_parquet_logger")

    server.add("a", "queued")
    frame = pd.DataFrame({"rid": ["a"], "cid": ["c-a"]})
    rc = seed.RetrievalConfig(poll_interval=0.05, max_poll_attempts=10, show_progress=False)
    results = await retrieve_background_responses(
        frame, make_client(), retrieval_config=rc,
        column_config=seed.ColumnConfig(response_id="rid", custom_id="cid"),
    )  # fmt: skip
    assert results is not None
    assert results[["response_id", "custom_id", "status"]].values.tolist() == [
        ["a", "c-a", "timeout"]
    ]
    assert 3 <= server.requests("a") <= 10  # at most max_poll_attempts polls


async def test_submit_retrieve_read_back_as_in_the_readme(
    server: FakeResponsesServer, make_client: Callable[..., Any],
    make_logger: Callable[..., ParquetLogger], log_dir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    """The README's flow: create(background=True), retrieve with a checkpoint, read back."""
    client = make_client()
    logger = make_logger()
    rows = []
    for custom_id, prompt in {"q1": "What is 2+2?", "q2": "Name a prime."}.items():
        resp = await client.responses.create(
            model="gpt-4.1-mini", input=prompt, background=True, store=True
        )
        assert resp.status == "queued"
        rows.append({"response_id": resp.id, "custom_id": custom_id})
    results = await retrieve_background_responses(
        pd.DataFrame(rows), client, logger, checkpoint_file=tmp_path / "ckpt.jsonl", **FAST
    )
    assert results is not None
    assert results["status"].tolist() == ["completed", "completed"]
    logger.flush()
    df = pd.read_parquet(log_dir)
    done = df[df["event_type"] == "background_retrieval_complete"]
    texts = done.set_index("custom_id")["payload"].map(
        lambda p: json.loads(p)["data"]["output_text"]
    )
    assert texts.to_dict() == {f"q{i}": f"answer for resp_created_{i}" for i in (1, 2)}


class _Responses:
    """`responses.retrieve` of a client that is not the SDK's (a user's test double): answers
    by id, a dict without `status`, an exception, or never."""

    async def retrieve(self, response_id: str) -> Any:
        if response_id.startswith("missing"):
            raise Exception("404 Not found")
        if response_id.startswith("hang"):
            await asyncio.Event().wait()  # never set: only the request timeout ends it
        return {"id": response_id, "output": []}


class _HandMadeClient:
    """Shaped like openai.AsyncOpenAI; `with_options` would not return a client."""

    def __init__(self) -> None:
        self.responses = _Responses()

    def with_options(self, **kwargs: Any) -> Any:
        raise AssertionError("with_options is only for the SDK's own clients")


async def test_a_client_that_is_not_the_sdks_reports_like_the_old_package(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """No status field: completed. A failed fetch: status failed, the error's own text, its
    class apart as error_type, retryable by a later run. A request that never answers:
    failed after `timeout`, 'Timeout' in the error."""
    logger = make_logger()
    results = await retrieve_background_responses(
        ids_frame(["done", "missing", "hang"]),
        _HandMadeClient(),
        logger,
        timeout=0.2,
        max_retries=1,
        **FAST,
    )
    assert results is not None
    got = results.set_index("response_id")
    assert got["status"].to_dict() == {"done": "completed", "missing": "failed", "hang": "failed"}
    assert got.loc["missing", "error"] == "404 Not found"
    assert got.loc["hang", "error"] == "Timeout after 0.2s"
    assert got.loc["hang", "attempts"] == 2  # retried once: a timeout is transient
    logger.flush()
    errors = events(log_dir).query("event_type == @ERROR").set_index("response_id")
    assert errors.loc["missing", "data"]["error_type"] == "Exception"
    assert errors.loc["missing", "data"]["retryable"] is True
    assert errors.loc["hang", "data"]["retryable"] is True
    pending = find_pending_responses(log_dir)
    assert sorted(pending["response_id"]) == ["hang", "missing"]  # a rerun tries them again


async def test_a_response_parser_fills_the_parsed_output_column(
    server: FakeResponsesServer, make_client: Callable[..., Any]
) -> None:
    """With response_parser, each completed response's parse is a column of the results."""
    server.add("p", "completed")
    server.add("f", "failed")

    def first_text(body: dict[str, Any]) -> str:
        return str(body["output"][0]["content"][0]["text"]).upper()

    results = await retrieve_background_responses(
        ids_frame(["p", "f"]), make_client(), response_parser=first_text, **FAST
    )
    assert results is not None
    assert list(results.columns) == [*RESULT_COLUMNS, "parsed_output"]
    parsed = results.set_index("response_id")["parsed_output"]
    assert parsed["p"] == "ANSWER FOR P"
    assert pd.isna(parsed["f"])  # not completed: nothing parsed
