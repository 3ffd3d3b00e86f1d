"""S3 upload against a real S3-compatible server (moto's, over HTTP, with real boto3): files
arrive byte-identical and exactly once through injected faults, writer kills and restarts;
definitive failures are reported, not retried in a storm, and never lose a file."""

from __future__ import annotations

import logging
import os
import pickle
import signal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow.dataset as ds
import pytest

from parquet_logger import ParquetLogger
from parquet_logger.errors import S3UploadError
from parquet_logger.s3config import S3Config
from parquet_logger.transport.statedir import STATE_FOLDER, StateDir
from tests.s3_server import REGION, Fault, FaultProxy, S3Server

# The fixtures, registered by importing them (the redundant alias marks a deliberate import).
from tests.s3_server import fault_proxy_fixture as fault_proxy_fixture
from tests.s3_server import s3_bucket_fixture as s3_bucket_fixture
from tests.s3_server import s3_env_fixture as s3_env_fixture
from tests.s3_server import s3_server_fixture as s3_server_fixture
from tests.scenarios.producers import log_llm_run, log_llm_start
from tests.support import run_python, wait_for, writer_pid, writer_running

pytestmark = pytest.mark.usefixtures("s3_env")

REPO = Path(__file__).parents[1]
PREFIX = "langchain-logs/"
EVENTS_PER_ROUND = 40


def s3_config(endpoint_url: str, bucket: str, **overrides: Any) -> S3Config:
    """Upload settings for tests: quick retries, short timeouts."""
    settings: dict[str, Any] = {"retry_attempts": 4, "connect_timeout": 2.0, "read_timeout": 10.0}
    settings.update(overrides)
    settings.setdefault("prefix", PREFIX)
    return S3Config(bucket, endpoint_url=endpoint_url, region=REGION, **settings)


def log_round(logger: ParquetLogger, round_no: int) -> None:
    """EVENTS_PER_ROUND llm_start events, custom ids `r<round>-<i>`."""
    for i in range(EVENTS_PER_ROUND):
        log_llm_start(logger, f"r{round_no}-{i}")


def local_files(log_dir: Path) -> dict[str, Path]:
    """Every published part file under `log_dir`, by the S3 key it must be uploaded to."""
    return {
        PREFIX + path.relative_to(log_dir).as_posix(): path
        for path in sorted(log_dir.rglob("*.parquet"))
        if STATE_FOLDER not in path.relative_to(log_dir).parts
    }


def object_keys(server: S3Server, bucket: str) -> list[str]:
    """Every key in `bucket`, sorted (S3 lists a key once, so a duplicate shows as extra)."""
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def assert_uploaded_once_each(server: S3Server, bucket: str, files: dict[str, Path]) -> None:
    """One object per local file, under its key, with the same bytes, and nothing else."""
    assert object_keys(server, bucket) == sorted(files)
    client = server.client()
    for key, path in files.items():
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body == path.read_bytes(), key


def spooled(log_dir: Path) -> list[str]:
    """The spool's entries: files whose upload S3 has not confirmed."""
    spool = StateDir.for_log_dir(log_dir).root / "spool"
    return sorted(p.name for p in spool.glob("*.parquet.json"))


def status_when(log_dir: Path, **expected: object) -> dict[str, Any]:
    """status.json once it shows `expected` (the writer rewrites it every second)."""
    path = StateDir.for_log_dir(log_dir).status

    def read() -> dict[str, Any]:
        try:
            return dict(orjson.loads(path.read_bytes()))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}

    def shows() -> bool:
        status = read()
        return all(status.get(name) == value for name, value in expected.items())

    wait_for(shows, 10, f"status.json to show {expected}")
    return read()


def test_files_reach_s3_byte_identical_and_read_back_as_one_dataset(
    s3_server, s3_bucket, make_logger, log_dir
):
    """Every part file lands under prefix + its relative path with the same bytes, and the
    bucket read back with pyarrow's own S3 client is the local dataset."""
    logger = make_logger(
        s3_config=s3_config(s3_server.endpoint_url, s3_bucket),
        partition_on=["date", "event_type"],
        flush_interval_s=60,
    )
    for round_no in range(3):
        for i in range(EVENTS_PER_ROUND):
            log_llm_run(logger, f"r{round_no}-{i}")
        logger.flush(timeout=30)

    files = local_files(log_dir)
    # At least three flushes of two partitions (llm_start, llm_end); a writer that drained
    # part of a round before the flush request writes that round in two goes.
    assert len(files) >= 6
    assert all("/date=" in key and "/event_type=" in key for key in files)
    assert_uploaded_once_each(s3_server, s3_bucket, files)
    local = ds.dataset(log_dir, format="parquet", partitioning="hive").to_table()
    remote = ds.dataset(
        f"{s3_bucket}/{PREFIX.rstrip('/')}",
        filesystem=s3_server.filesystem(),
        format="parquet",
        partitioning="hive",
    ).to_table()
    assert remote.num_rows == 3 * 2 * EVENTS_PER_ROUND
    assert remote.sort_by("event_id").equals(local.sort_by("event_id"))
    status = status_when(log_dir, files_uploaded=len(files))
    assert status["files_pending_upload"] == 0
    assert status["upload_failures"] == 0
    assert status["upload_retries"] == 0
    assert spooled(log_dir) == []


def test_transient_faults_are_retried_by_the_policy_alone_and_land_once(
    fault_proxy: FaultProxy, s3_server, s3_bucket, make_logger, log_dir
):
    """503 SlowDown, 500, a connection reset and a reply stalled past the read timeout (after
    the object landed) are each retried once by tenacity and never by botocore: the proxy
    sees faults + 1 PUTs per file, and each file is in the bucket once."""
    logger = make_logger(
        s3_config=s3_config(fault_proxy.endpoint_url, s3_bucket, read_timeout=1.5),
        flush_interval_s=60,
    )
    rounds = [(Fault.SLOW_DOWN, Fault.INTERNAL_ERROR), (Fault.RESET,), (Fault.STALL,)]
    for round_no, faults in enumerate(rounds):
        fault_proxy.inject(*faults)
        log_round(logger, round_no)
        logger.flush(timeout=30)
        assert fault_proxy.faults_left == 0

    files = local_files(log_dir)
    assert_uploaded_once_each(s3_server, s3_bucket, files)
    paths = {key: f"/{s3_bucket}/{key}" for key in files}
    injected = fault_proxy.injected("PUT")
    # Part files are named by time, so sorted keys are in upload order; a round's faults all
    # hit its first file (one PUT and its retries) even when the round took two files.
    faulted = [injected[paths[key]] for key in sorted(files) if paths[key] in injected]
    assert faulted == list(map(list, rounds))
    assert fault_proxy.requests("PUT") == {
        path: len(injected.get(path, [])) + 1 for path in paths.values()
    }
    # The stalled PUT had landed: its retry got 412, and one HEAD confirmed the object.
    (stalled,) = (path for path, faults in injected.items() if faults == [Fault.STALL])
    assert fault_proxy.requests("HEAD") == {stalled: 1}
    status = status_when(log_dir, files_uploaded=len(files))
    assert status["upload_retries"] == 4
    assert status["upload_failures"] == 0
    assert status["files_pending_upload"] == 0


@pytest.mark.parametrize("on_failure", ["error", "continue"])
def test_missing_bucket_is_tried_once_per_file_reported_and_kept(
    on_failure: str,
    fault_proxy: FaultProxy,
    make_logger,
    log_dir: Path,
    caplog: pytest.LogCaptureFixture,
):
    """A 404 NoSuchBucket is definitive: one PUT per file, no retry storm; "error" makes
    flush() raise S3UploadError naming bucket, key and cause, "continue" warns; either way the
    local file and its spool entry stay."""
    bucket = "no-such-llm-logs"
    logger = make_logger(
        s3_config=s3_config(fault_proxy.endpoint_url, bucket, on_failure=on_failure),
        flush_interval_s=60,
    )
    for round_no in range(2):
        before = set(local_files(log_dir))
        log_round(logger, round_no)
        if on_failure == "error":
            with pytest.raises(S3UploadError) as raised:
                logger.flush(timeout=30)
            error = raised.value
        else:
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="parquet_logger"):
                logger.flush(timeout=30)
            (record,) = (r for r in caplog.records if r.name == "parquet_logger")
            assert record.levelno == logging.WARNING
            assert isinstance(record.args, tuple)
            warned = record.args[0]
            assert isinstance(warned, S3UploadError)
            error = warned
        # The error names the round's last file (uploads go in file-name order).
        key = max(set(local_files(log_dir)) - before)
        assert (error.bucket, error.key) == (bucket, key)
        assert error.cause.startswith("NoSuchBucket: ")
        assert str(error) == f"upload of s3://{bucket}/{key} failed: {error.cause}"

    files = local_files(log_dir)
    assert fault_proxy.requests("PUT") == {f"/{bucket}/{key}": 1 for key in files}
    assert spooled(log_dir) == sorted(f"{path.name}.json" for path in files.values())
    status = status_when(log_dir, upload_failures=len(files))
    assert status["files_pending_upload"] == len(files)
    assert status["files_uploaded"] == 0
    assert status["upload_retries"] == 0


def test_uploads_pending_when_the_writer_is_killed_finish_after_its_restart(
    fault_proxy: FaultProxy, s3_server, s3_bucket, make_logger, log_dir
):
    """A writer SIGKILLed while its uploads hang is restarted by the producer's watchdog; the
    new writer uploads the spool, flush() waits for that, and every file lands once."""
    fault_proxy.hold("PUT")
    logger = make_logger(
        s3_config=s3_config(fault_proxy.endpoint_url, s3_bucket), flush_interval_s=0.2
    )

    def spool_reaches(count: int) -> None:
        wait_for(lambda: len(spooled(log_dir)) >= count, 15, f"{count} file(s) in the spool")

    for round_no in range(3):
        log_round(logger, round_no)
        spool_reaches(round_no + 1)  # written every 0.2 s, and never uploaded
    wait_for(lambda: fault_proxy.holding == 1, 15, "the first upload to hang")
    wait_for(lambda: writer_pid(log_dir) is not None, 15, "the writer's status")
    killed = writer_pid(log_dir)
    assert killed is not None
    os.kill(killed, signal.SIGKILL)

    wait_for(
        lambda: writer_pid(log_dir) not in (None, killed) and writer_running(log_dir),
        15,
        "the watchdog to start a new writer",
    )
    wait_for(lambda: fault_proxy.holding == 2, 15, "the new writer's upload to hang")
    with pytest.raises(TimeoutError, match="not yet uploaded"):
        logger.flush(timeout=1)  # the events are in files, but not in S3 yet
    fault_proxy.release()
    logger.flush(timeout=30)

    files = local_files(log_dir)
    assert len(files) >= 3
    assert_uploaded_once_each(s3_server, s3_bucket, files)
    assert spooled(log_dir) == []
    status = status_when(log_dir, files_uploaded=len(files))
    assert status["files_pending_upload"] == 0
    assert status["upload_failures"] == 0


def test_keep_local_false_removes_files_once_uploaded(s3_server, s3_bucket, make_logger, log_dir):
    """With keep_local=False a file is deleted right after S3 confirms it; S3 has them all."""
    logger = make_logger(
        s3_config=s3_config(s3_server.endpoint_url, s3_bucket, keep_local=False),
        flush_interval_s=60,
    )
    for round_no in range(2):
        log_round(logger, round_no)
        logger.flush(timeout=30)
        assert local_files(log_dir) == {}

    keys = object_keys(s3_server, s3_bucket)
    assert len(keys) >= 2
    remote = ds.dataset(
        f"{s3_bucket}/{PREFIX.rstrip('/')}",
        filesystem=s3_server.filesystem(),
        format="parquet",
        partitioning="hive",
    ).to_table()
    expected = sorted(f"r{r}-{i}" for r in range(2) for i in range(EVENTS_PER_ROUND))
    assert sorted(remote.column("custom_id").to_pylist()) == expected
    assert spooled(log_dir) == []
    assert status_when(log_dir, files_uploaded=len(keys))["files_pending_upload"] == 0


def test_logger_with_another_target_than_the_live_writer_is_refused(
    start_writer, s3_server, s3_bucket, make_logger, log_dir
):
    """A logger must not log through a running writer that uploads elsewhere: ValueError
    naming both targets; a logger with the writer's target still attaches afterwards."""
    theirs = s3_config(s3_server.endpoint_url, s3_bucket)
    start_writer(
        "--s3-bucket", s3_bucket, "--s3-prefix", PREFIX, "--s3-endpoint-url", theirs.endpoint_url
    )
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    # What the check reads: written just after the writer lock is taken, not with it.
    settings_file = StateDir.for_log_dir(log_dir).writer_settings
    wait_for(settings_file.exists, 15, "the writer's writer.json")
    ours = s3_config(s3_server.endpoint_url, "other-llm-logs")
    with pytest.raises(ValueError, match="differs from") as raised:
        make_logger(s3_config=ours)
    assert ours.target in str(raised.value)
    assert theirs.target in str(raised.value)

    logger = make_logger(s3_config=theirs)
    log_round(logger, 0)
    logger.flush(timeout=30)
    assert object_keys(s3_server, s3_bucket) == sorted(local_files(log_dir))


def test_second_logger_of_a_process_with_another_target_is_refused(
    s3_server, s3_bucket, make_logger
):
    """Two loggers of one process on one directory must agree on the S3 target."""
    first = s3_config(s3_server.endpoint_url, s3_bucket)
    second = s3_config(s3_server.endpoint_url, s3_bucket, prefix="elsewhere/")
    make_logger(s3_config=first)
    with pytest.raises(ValueError, match="differs from") as raised:
        make_logger(s3_config=second)
    assert first.target in str(raised.value)
    assert second.target in str(raised.value)


def test_job_that_ends_with_a_failed_upload_exits_1(fault_proxy: FaultProxy, log_dir: Path):
    """on_failure="error": a job that just ends after an upload failed exits 1 from atexit,
    with the failure on stderr."""
    bucket = "no-such-llm-logs"
    job = f"""
        from parquet_logger import ParquetLogger
        from parquet_logger.s3config import S3Config
        from tests.scenarios.producers import log_llm_start

        config = S3Config({bucket!r}, endpoint_url={fault_proxy.endpoint_url!r},
                          region={REGION!r}, on_failure="error")
        logger = ParquetLogger({str(log_dir)!r}, s3_config=config)
        for i in range(10):
            log_llm_start(logger, str(i))
    """
    result = run_python(job, cwd=REPO)
    assert result.returncode == 1, result.stderr
    files = local_files(log_dir)
    assert f"upload of s3://{bucket}/{max(files)} failed: NoSuchBucket" in result.stderr
    assert fault_proxy.requests("PUT") == {f"/{bucket}/{key}": 1 for key in files}


def test_a_pickled_logger_keeps_its_s3_target(tmp_path):
    """A logger pickled to a worker process carries its S3 settings along."""
    config = S3Config("llm-logs", prefix="jobs/", endpoint_url="http://127.0.0.1:9")
    logger = ParquetLogger(tmp_path / "logs", s3_config=config, start_writer=False)
    try:
        clone = pickle.loads(pickle.dumps(logger))
        assert clone.settings.s3 == config
        clone.close(timeout=1)
    finally:
        logger.close(timeout=1)
        StateDir.for_log_dir(tmp_path / "logs").shm_ring.unlink(missing_ok=True)


async def test_batch_process_uploads_under_its_templated_prefix(s3_server, s3_bucket, tmp_path):
    """batch_process with s3_prefix_template: every event of the job lands in S3 under the
    templated prefix, each local file as one object."""
    import datetime

    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from parquet_logger import batch_process, with_tags

    df = pd.DataFrame(
        {
            "prompt": [f"q{i}" for i in range(20)],
            "config": [with_tags(custom_id=f"row-{i}") for i in range(20)],
        }
    )
    base = S3Config(s3_bucket, endpoint_url=s3_server.endpoint_url, region=REGION)
    results = await batch_process(
        df,
        llm=FakeListChatModel(responses=["ok"]),
        job_category="production",
        output_dir=str(tmp_path / "out"),
        s3_config=base,
        s3_prefix_template="ml/{job_category}/{date}/",
        show_progress=False,
    )
    assert len(results) == 20
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    keys = object_keys(s3_server, s3_bucket)
    assert keys
    assert all(key.startswith(f"ml/production/{today}/") for key in keys)
    local = list((tmp_path / "out").rglob("*.parquet"))
    assert len(keys) == len(local)
    table = ds.dataset(
        f"{s3_bucket}/ml/production/{today}/",
        filesystem=s3_server.filesystem(),
        format="parquet",
        partitioning="hive",
    ).to_table(columns=["custom_id"])
    assert sorted(set(table["custom_id"].to_pylist())) == sorted(f"row-{i}" for i in range(20))
