"""The writer's command line, run as a real process: run, status, flush, stop."""

from __future__ import annotations

import os
import subprocess
import sys
from uuid import uuid4

import orjson

from parquet_logger.transport.protocol import ControlExit, RunExit
from tests.support import read_rows, wait_for, writer_running


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parquet_logger_daemon", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_json_reports_the_running_writer(start_writer, make_logger, log_dir):
    """status --json: liveness, pid, counters, ring fill and the attached producers."""
    proc = start_writer()
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    logger = make_logger(start_writer=False)
    for i in range(20):
        logger.on_llm_start({"name": "m"}, [f"p{i}"], run_id=uuid4())
    logger.flush(timeout=30)
    wait_for(
        lambda: (
            orjson.loads(cli("status", "--dir", str(log_dir), "--json").stdout)["events_written"]
            == 20
        ),
        15,
        "the status file to show the write",
    )
    result = cli("status", "--dir", str(log_dir), "--json")
    assert result.returncode == ControlExit.DONE
    status = orjson.loads(result.stdout)
    assert status["running"] is True
    assert status["pid"] == proc.pid
    assert status["events_received"] == 20
    assert status["files_written"] >= 1
    assert status["events_dropped"] == 0
    assert status["ring_fill"] == 0
    assert status["ring_high_water"] > 0
    assert status["last_flush_ns"] > 0
    assert status["uptime_s"] >= 0
    assert os.getpid() in status["producers"]
    text = cli("status", "--dir", str(log_dir))
    assert f"running, pid {proc.pid}" in text.stdout


def test_status_of_a_directory_without_writer(tmp_path):
    """No writer: exit code 3, and the JSON says so."""
    result = cli("status", "--dir", str(tmp_path / "none"), "--json")
    assert result.returncode == ControlExit.NO_WRITER == 3
    assert orjson.loads(result.stdout)["running"] is False


def test_flush_command_writes_what_is_buffered(start_writer, make_logger, log_dir):
    """flush --dir makes a writer with a long interval write now, and waits for it."""
    start_writer("--flush-interval-s", "3600")
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    logger = make_logger(start_writer=False)
    for _ in range(50):
        logger.on_llm_start({"name": "m"}, ["p"], run_id=uuid4())
    result = cli("flush", "--dir", str(log_dir), "--timeout", "20")
    assert result.returncode == ControlExit.DONE, result.stderr
    assert len(read_rows(log_dir)) == 50


def test_stop_drains_and_a_second_stop_finds_nothing(start_writer, log_dir):
    """stop: exit 0 once the writer is gone; then exit 3, as nothing runs."""
    proc = start_writer()
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")
    assert cli("stop", "--dir", str(log_dir)).returncode == ControlExit.DONE
    assert proc.wait(timeout=10) == RunExit.OK
    assert cli("stop", "--dir", str(log_dir)).returncode == ControlExit.NO_WRITER
    assert cli("flush", "--dir", str(log_dir)).returncode == ControlExit.NO_WRITER


def test_help_documents_exit_codes():
    """--help of run and of the control commands lists the exit codes."""
    assert "another writer is already running" in cli("run", "--help").stdout
    for command in ("status", "stop", "flush"):
        assert "no writer is running" in cli(command, "--help").stdout
    assert "refused: a Delta table" in cli("compact", "--help").stdout
