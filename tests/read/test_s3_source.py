"""The read functions and the report on an s3:// prefix (moto's server on 127.0.0.1, read
with pyarrow's S3 filesystem) give what they give on the local directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from parquet_logger.read import events, open_source, runs, trace
from parquet_logger.s3config import S3Config
from tests.read.workload import ALL_EVENTS, run_workload
from tests.s3_server import REGION

# The fixtures, registered by importing them (the redundant alias marks a deliberate import).
from tests.s3_server import s3_bucket_fixture as s3_bucket_fixture
from tests.s3_server import s3_env_fixture as s3_env_fixture
from tests.s3_server import s3_server_fixture as s3_server_fixture

pytestmark = pytest.mark.usefixtures("s3_env")
PREFIX = "team/logs/"


@pytest.fixture
def uploaded(make_logger, log_dir, s3_server, s3_bucket):
    """The workload logged locally and uploaded under s3://bucket/team/logs/, plus objects
    a reader must skip (a state file, an in-flight .tmp)."""
    config = S3Config(s3_bucket, prefix=PREFIX, endpoint_url=s3_server.endpoint_url, region=REGION)
    logger = make_logger(event_types=ALL_EVENTS, s3_config=config)
    run_workload(logger)
    logger.flush(timeout=60)
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key=f"{PREFIX}_parquet_logger/h/status.json", Body=b"{}")
    key = next(
        o["Key"]
        for o in client.list_objects_v2(Bucket=s3_bucket, Prefix=PREFIX)["Contents"]
        if o["Key"].endswith(".parquet")
    )
    body = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    client.put_object(Bucket=s3_bucket, Key=key + ".tmp", Body=body)
    return f"s3://{s3_bucket}/{PREFIX}"


def test_runs_events_and_trace_on_s3(uploaded, log_dir, s3_server):
    """Same runs (ids, status, tokens, cost), events and trees as the local directory."""
    source = open_source(uploaded, endpoint_url=s3_server.endpoint_url, region=REGION)
    assert source.files
    remote, local = runs(source), runs(log_dir)
    columns = ["run_id", "status", "trace_id", "input_tokens", "output_tokens", "cost_usd"]
    assert (
        remote[columns]
        .sort_values("run_id")
        .reset_index(drop=True)
        .equals(local[columns].sort_values("run_id").reset_index(drop=True))
    )
    assert remote.attrs["unpriced_models"] == local.attrs["unpriced_models"]
    assert len(events(source)) == len(events(log_dir))
    llm = local[local["custom_id"] == "q1"].iloc[0]
    assert str(trace(source, llm["run_id"])) == str(trace(log_dir, llm["run_id"]))


def test_report_command_on_s3(uploaded, s3_server, tmp_path):
    """`parquet-logger report s3://... --endpoint-url` writes the report (exit code 0)."""
    out = tmp_path / "s3-report.html"
    done = subprocess.run(
        [sys.executable, "-m", "parquet_logger.cli", "report", uploaded, "-o", str(out),
         "--endpoint-url", s3_server.endpoint_url, "--region", REGION],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert "LLM run report" in html
    assert uploaded in html
