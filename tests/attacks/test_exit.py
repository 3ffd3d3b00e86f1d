"""What a process says and does at exit when its events are not safe yet (issue #12, items 4
and 17)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from parquet_logger.transport.statedir import StateDir
from tests.s3_server import REGION, FaultProxy
from tests.s3_server import fault_proxy_fixture as fault_proxy_fixture
from tests.s3_server import s3_env_fixture as s3_env_fixture
from tests.s3_server import s3_server_fixture as s3_server_fixture
from tests.support import drain_argv, read_rows, run_python

REPO = Path(__file__).parents[2]


@pytest.mark.usefixtures("s3_env")
def test_failed_upload_at_exit_runs_the_applications_exit_handlers(
    fault_proxy: FaultProxy, log_dir: Path, tmp_path: Path
):
    """Exit handlers registered before and after the package was imported all run (a
    buffered logging handler is flushed by logging.shutdown), and the job still exits 1."""
    app_log = tmp_path / "app.log"
    job = f"""
        import atexit, logging, logging.handlers
        atexit.register(print, "handler registered before the import ran", flush=True)
        target = logging.FileHandler({str(app_log)!r})
        buffered = logging.handlers.MemoryHandler(capacity=1000, target=target)
        logging.getLogger("app").addHandler(buffered)
        logging.getLogger("app").warning("buffered line the job wrote")

        from parquet_logger import ParquetLogger, S3Config
        from tests.scenarios.producers import log_llm_start

        atexit.register(print, "handler registered after the import ran", flush=True)
        config = S3Config("no-such-llm-logs", endpoint_url={fault_proxy.endpoint_url!r},
                          region={REGION!r}, on_failure="error")
        logger = ParquetLogger({str(log_dir)!r}, s3_config=config)
        for i in range(10):
            log_llm_start(logger, str(i))
    """
    result = run_python(job, cwd=REPO)
    assert result.returncode == 1, result.stderr
    assert "NoSuchBucket" in result.stderr
    assert "handler registered before the import ran" in result.stdout
    assert "handler registered after the import ran" in result.stdout
    assert result.stdout.count("ran") == 2, "each handler runs exactly once"
    assert "buffered line the job wrote" in app_log.read_text()


def test_exit_with_undrained_events_and_no_writer_says_so(tmp_path):
    """A producer that exits while its events sit in the ring with no writer to drain them
    says so on stderr: how many, and the command that drains them."""
    log_dir = tmp_path / "logs"
    result = run_python(
        f"""
        from parquet_logger import ParquetLogger
        logger = ParquetLogger({str(log_dir)!r}, start_writer=False, atexit_timeout_s=1)
        for i in range(25):
            logger.log_event("custom_event", {{"i": i}})
        """
    )
    assert result.returncode == 0, result.stderr
    assert "25 events" in result.stderr
    assert f"parquet-logger-daemon run --dir {log_dir} --exit-when-idle" in result.stderr
    drain = subprocess.run(
        drain_argv(log_dir),
        capture_output=True,
        timeout=60,
    )
    assert drain.returncode == 0, drain.stderr
    assert len(read_rows(log_dir)) == 25
    assert not StateDir.for_log_dir(log_dir).shm_ring.exists()
