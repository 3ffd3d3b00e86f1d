"""A failed upload at exit fails the job without skipping the application's own exit
handlers (issue #12, item 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.s3_server import REGION, FaultProxy
from tests.s3_server import fault_proxy_fixture as fault_proxy_fixture
from tests.s3_server import s3_env_fixture as s3_env_fixture
from tests.s3_server import s3_server_fixture as s3_server_fixture
from tests.support import run_python

pytestmark = pytest.mark.usefixtures("s3_env")

REPO = Path(__file__).parents[2]


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
