"""How the old package's users meet three failures (issue #13, items 10 and 11, and the
diagnosis's item 13): boto3 missing with an S3 config, a log directory deleted while a logger
is still attached, and loggers never closed (a test suite builds dozens)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger, S3Config, S3UploadError
from parquet_logger.transport.statedir import StateDir
from tests.conftest import WriterStarter
from tests.scenarios.producers import log_llm_start
from tests.support import read_rows, run_python, wait_for, writer_running

REPO = Path(__file__).parents[2]
BUCKET = "llm-logs"
NOWHERE = "http://127.0.0.1:9"  # never contacted: the writer has no S3 client to call it with
# Loaded by every interpreter started with this folder on PYTHONPATH: `import boto3` then
# raises ImportError, as it does where the package was installed without its [s3] extra.
NO_BOTO3 = "import sys\nsys.modules['boto3'] = None\n"


def test_an_s3_logger_without_boto3_fails_at_construction_naming_the_extra(
    tmp_path: Path,
) -> None:
    """boto3 not importable: ParquetLogger(s3_bucket=...) raises ImportError naming
    `pip install "parquet-logger[s3]"` at once, and leaves no ring or state behind."""
    log_dir = tmp_path / "logs"
    run = run_python(
        f"""
        import sys
        sys.modules["boto3"] = None
        from parquet_logger import ParquetLogger
        try:
            ParquetLogger({str(log_dir)!r}, s3_bucket={BUCKET!r})
        except ImportError as exc:
            print("ImportError:", exc)
        """,
        timeout=30,
    )
    assert run.returncode == 0, run.stderr
    assert "ImportError: uploading to S3" in run.stdout
    assert 'pip install "parquet-logger[s3]"' in run.stdout
    assert not log_dir.exists()
    assert not StateDir.for_log_dir(log_dir).shm_ring.exists()


def test_a_writer_without_boto3_still_writes_local_files_and_keeps_them_spooled(
    start_writer: WriterStarter,
    log_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A writer started with --s3-bucket where boto3 is missing keeps running: the events are
    in local Parquet, each file waits in the spool, the failure is counted in its status, and
    flush() (on_failure="error") raises S3UploadError naming the fix instead of timing out."""
    shim = tmp_path / "no_boto3"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(NO_BOTO3)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(shim), str(REPO)]))
    writer = start_writer("--s3-bucket", BUCKET, "--s3-endpoint-url", NOWHERE)
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    monkeypatch.delenv("PYTHONPATH")

    logger = ParquetLogger(
        log_dir, s3_config=S3Config(BUCKET, endpoint_url=NOWHERE), start_writer=False
    )
    try:
        log_llm_start(logger, "kept-locally")
        with pytest.raises(S3UploadError, match=r"parquet-logger\[s3\]"):
            logger.flush(timeout=30)
    finally:
        logger.close(timeout=30)
    assert read_rows(log_dir)["custom_id"].tolist() == ["kept-locally"]
    state = StateDir.for_log_dir(log_dir)
    assert any((state.root / "spool").iterdir()), "the file left the spool, not uploaded"
    assert writer.poll() is None, start_writer.output(writer)

    def failures_counted() -> bool:
        return json.loads(state.status.read_text()).get("upload_failures", 0) >= 1

    wait_for(failures_counted, 15, "the status to count the failed upload")


DELETED_WHILE_ATTACHED = """
import os, tempfile, time
from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import StateDir
from tests.scenarios.producers import log_llm_start
from tests.support import wait_for, writer_pid

with tempfile.TemporaryDirectory() as d:
    logger = ParquetLogger(d)
    log_llm_start(logger, "before-the-delete")
    logger.flush()
    ring, pid = StateDir.for_log_dir(d).shm_ring, writer_pid(d)
    print("ring", ring, flush=True)
    print("writer", pid, flush=True)
# Left WITHOUT closing the logger: the directory is gone, the logger still attached.


def writer_gone() -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (the reaper thread not run yet)
        return stat.read().split(") ")[1].startswith("Z")


wait_for(lambda: not ring.exists(), 10, "the ring to be removed")
wait_for(writer_gone, 10, "the writer to exit")
log_llm_start(logger, "after-the-delete")  # dropped and counted, never blocks
print("dropped", logger.stats()["dropped_events"], flush=True)
"""


def test_a_log_directory_deleted_while_attached_leaves_no_ring_and_no_traceback() -> None:
    """`with tempfile.TemporaryDirectory()` left without closing the logger: within seconds
    the writer exits and the ring leaves /dev/shm; stderr has one warning, no traceback; a
    later event is dropped at once (counted); the exit is quiet (nothing was lost)."""
    run = run_python(DELETED_WHILE_ATTACHED, timeout=60, cwd=REPO)
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    ring = Path(lines["ring"])
    try:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stderr, run.stderr
        assert run.stderr.count("was deleted while a logger was attached") == 1, run.stderr
        # ... and the drop of the event logged after it says why, once (rate-limited).
        assert run.stderr.count("log directory deleted, 1 event(s) dropped") == 1, run.stderr
        assert len(run.stderr.strip().splitlines()) == 2, run.stderr
        assert lines["dropped"] == "1"
        assert not ring.exists()
    finally:
        ring.unlink(missing_ok=True)


def test_a_logger_dropped_without_close_lets_its_writer_and_ring_go(log_dir: Path) -> None:
    """A logger that is never closed and no longer referenced gives its directory back when
    it is collected: its writer writes what it logged, exits, and removes the ring, without
    waiting for this process to exit. A logger still referenced keeps them."""
    kept = ParquetLogger(log_dir, flush_interval_s=0.2)
    dropped = ParquetLogger(log_dir, flush_interval_s=0.2)
    dropped.log_event("custom_note", {"n": 1})
    ring = StateDir.for_log_dir(log_dir).shm_ring
    del dropped
    gc.collect()
    kept.log_event("custom_note", {"n": 2})
    kept.flush()
    assert writer_running(log_dir)  # `kept` still holds the directory
    assert ring.exists()
    del kept
    gc.collect()
    wait_for(lambda: not writer_running(log_dir), 30, "the writer to exit")
    wait_for(lambda: not ring.exists(), 30, "the ring to leave /dev/shm")
    notes = read_rows(log_dir).query("event_type == 'custom_note'")
    assert sorted(json.loads(p)["data"]["n"] for p in notes["payload"]) == [1, 2]
