"""What a new user meets first: a missing API key, a script without the `__main__` guard,
the seed's column names, a flush with no writer (issue #12, items 12 to 15)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import openai
import pandas as pd
import pytest

from parquet_logger import ParquetLogger
from parquet_logger.retrieval.api import retrieve_background_responses
from tests.fake_openai_responses import FakeResponsesServer
from tests.scenarios.producers import log_llm_start
from tests.support import read_rows

REPO = Path(__file__).parents[2]


def test_retrieve_without_an_api_key_says_so_in_one_line_with_its_own_exit_code(
    log_dir: Path, tmp_path: Path
) -> None:
    """No OPENAI_API_KEY: one line naming it and exit code 5 (not 1, "some did not
    complete"); --help names the environment variables, the defaults and exit code 5."""
    source = tmp_path / "in.csv"
    pd.DataFrame({"response_id": ["resp_1"]}).to_csv(source, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    script = [sys.executable, "-m", "parquet_logger.retrieval.cli"]
    cmd = [*script, "--dir", str(log_dir), "--input", str(source), "--no-progress"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 5, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert "OPENAI_API_KEY is not set" in run.stderr
    assert "Traceback" not in run.stderr
    help_text = subprocess.run(
        [*script, "--help"], env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "(default: 50)", "(default: 5.0)"):
        assert name in help_text
    assert "5  no OpenAI client" in help_text


def test_a_retrieval_frame_with_the_seeds_logger_custom_id_column_keeps_its_custom_ids(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """The seed's `logger_custom_id` column is taken as the custom-id column: the events
    carry those ids, and no warning says the custom ids are left empty."""
    server = FakeResponsesServer().start()
    try:
        server.add("resp_a", "queued", "completed")
        frame = pd.DataFrame({"response_id": ["resp_a"], "logger_custom_id": ["row-7"]})
        logger = make_logger()

        async def retrieve() -> pd.DataFrame | None:
            async with openai.AsyncOpenAI(api_key="test", base_url=server.base_url) as client:
                return await retrieve_background_responses(
                    frame, client, logger, poll_interval_s=0.02, show_progress=False
                )

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results = asyncio.run(retrieve())
    finally:
        server.stop()
    assert results is not None
    assert results["custom_id"].tolist() == ["row-7"]
    logger.flush()
    rows = read_rows(log_dir)
    assert len(rows) == 3
    assert set(rows["custom_id"]) == {"row-7"}


def test_flush_timeout_without_a_writer_says_what_to_run_not_a_missing_log(
    log_dir: Path,
) -> None:
    """start_writer=False and no writer: the TimeoutError names the command that writes the
    events (which then does), not a writer.log that was never created."""
    logger = ParquetLogger(log_dir=log_dir, start_writer=False)
    log_llm_start(logger, "stranded")
    with pytest.raises(TimeoutError) as raised:
        logger.flush(timeout=0.5)
    message = str(raised.value)
    assert "writer.log" not in message
    command = f"parquet-logger-daemon run --dir {log_dir} --exit-when-idle"
    assert command in message
    with pytest.raises(TimeoutError):  # close() flushes too, and says the same
        logger.close(timeout=0.5)
    daemon = [sys.executable, "-m", "parquet_logger_daemon", *command.split()[1:]]
    subprocess.run(daemon, check=True, timeout=60, capture_output=True)
    assert read_rows(log_dir)["custom_id"].tolist() == ["stranded"]


UNGUARDED_SCRIPT = """
import asyncio
import pandas as pd
from langchain_core.language_models import FakeListChatModel
from parquet_logger import batch_run

df = pd.DataFrame({"prompt": [f"q{i}" for i in range(20)]})
llm = FakeListChatModel(responses=["a"])
results = asyncio.run(batch_run(df, llm, processes=2, show_progress=False, mp_context=%r))
print("returned normally:", [type(r).__name__ for r in results])
"""


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_batch_run_in_a_script_without_the_main_guard_fails_at_once_with_the_fix(
    tmp_path: Path, start_method: str
) -> None:
    """processes=2 in a script with no `if __name__ == "__main__":`: the job raises
    UnguardedMainError naming the guard within seconds, instead of returning every row as
    a WorkerCrashedError."""
    script = tmp_path / "job.py"
    script.write_text(UNGUARDED_SCRIPT % start_method)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert "returned normally" not in run.stdout
    last_line = run.stderr.strip().splitlines()[-1]
    assert last_line.startswith("parquet_logger.errors.UnguardedMainError:"), run.stderr
    assert 'if __name__ == "__main__":' in last_line
    assert str(script) in last_line
    assert elapsed < 15, elapsed
