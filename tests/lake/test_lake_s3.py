"""`lake commit` on an S3 prefix (moto's server on 127.0.0.1, real HTTP): the files the
writer uploaded become one table in place; a killed or out-raced commit registers all or
nothing; optimize and vacuum run through Delta."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable
from deltalake.transaction import AddAction, RemoveAction

from parquet_logger.errors import CommitterBusyError
from parquet_logger.lake import LakeSource, commit
from parquet_logger.lake import committer as committer_module
from parquet_logger.lake.cli import EXIT_OK, main
from parquet_logger.s3config import S3Config
from tests.lake.tables import (
    assert_registered_once,
    log_adds,
    polars_event_ids,
    table_event_ids,
    write_parts,
)
from tests.s3_server import REGION, S3Server

# The fixtures, registered by importing them (the redundant alias marks a deliberate import).
from tests.s3_server import s3_bucket_fixture as s3_bucket_fixture
from tests.s3_server import s3_env_fixture as s3_env_fixture
from tests.s3_server import s3_server_fixture as s3_server_fixture
from tests.scenarios.producers import log_llm_run

pytestmark = pytest.mark.usefixtures("s3_env")

PREFIX = "fleet/logs"
REPO = Path(__file__).parents[2]


def lake_source(server: S3Server, bucket: str) -> LakeSource:
    return LakeSource(f"s3://{bucket}/{PREFIX}", server.endpoint_url, REGION)


def cli_args(server: S3Server, bucket: str) -> list[str]:
    """SOURCE and the endpoint options, as a user types them."""
    return [f"s3://{bucket}/{PREFIX}", "--s3-endpoint-url", server.endpoint_url]


def upload_parts(server: S3Server, bucket: str, root: Path, count: int) -> list[str]:
    """`count` part files written under `root`, then uploaded under the prefix."""
    paths = write_parts(root, count)
    client = server.client()
    for rel in paths:
        client.upload_file(str(root / rel), bucket, f"{PREFIX}/{rel}")
    return paths


def test_writer_uploads_become_one_table_incrementally(s3_server, s3_bucket, make_logger):
    """A logger uploads to S3; commit; more events; commit again: only the new objects
    are added, and deltalake and Polars read every row once."""
    logger = make_logger(
        s3_config=S3Config(
            s3_bucket, prefix=PREFIX, endpoint_url=s3_server.endpoint_url, region=REGION
        ),
        partition_on=["date", "event_type"],
    )
    for i in range(10):
        log_llm_run(logger, f"s3-first-{i}")
    logger.flush(30)
    source = lake_source(s3_server, s3_bucket)
    assert main(["commit", *cli_args(s3_server, s3_bucket), "--s3-region", REGION]) == EXIT_OK
    first = set(log_adds(source))
    assert first
    assert len(table_event_ids(source)) == 20

    for i in range(5):
        log_llm_run(logger, f"s3-second-{i}")
    logger.flush(30)
    done = commit(source)

    assert done.known_files == len(first)
    assert done.added_files > 0
    assert done.added_rows == 10
    assert_registered_once(source)
    assert polars_event_ids(source) == table_event_ids(source)
    assert len(polars_event_ids(source)) == 30


def test_prefix_with_nothing_uploaded_yet_creates_no_table(s3_server, s3_bucket):
    """An empty prefix: exit 0, nothing written."""
    assert main(["commit", *cli_args(s3_server, s3_bucket)]) == EXIT_OK
    assert "Contents" not in s3_server.client().list_objects_v2(Bucket=s3_bucket)


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_killed_s3_commit_is_all_or_nothing(s3_server, s3_bucket, tmp_path, point):
    """A committer SIGKILLed around its S3 commit: nothing or everything; the rerun
    finishes with each object added once."""
    source = lake_source(s3_server, s3_bucket)
    upload_parts(s3_server, s3_bucket, tmp_path, 2)
    commit(source)
    upload_parts(s3_server, s3_bucket, tmp_path, 2)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.lake.killer", point, *cli_args(s3_server, s3_bucket)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    assert len(log_adds(source)) == (4 if point == "after_commit" else 2)
    assert main(["commit", *cli_args(s3_server, s3_bucket)]) == EXIT_OK
    assert_registered_once(source)


def test_out_raced_s3_commit_registers_nothing(s3_server, s3_bucket, tmp_path, monkeypatch):
    """S3 has no lock: a second committer that registers the same objects first makes
    ours fail at its conditional PUT of the log entry, instead of adding them twice."""
    source = lake_source(s3_server, s3_bucket)
    upload_parts(s3_server, s3_bucket, tmp_path, 1)
    commit(source)
    new = upload_parts(s3_server, s3_bucket, tmp_path, 2)
    real_commit_actions = committer_module._commit_actions

    def rival_first(*args, **kwargs):
        table = DeltaTable(source.table_uri, storage_options=source.storage_options())
        adds: list[AddAction | RemoveAction] = [
            AddAction(p, (tmp_path / p).stat().st_size, {"date": "2026-12-01"}, 0, True, "{}")
            for p in new
        ]
        table.create_write_transaction(adds, "append", table.schema(), partition_by=["date"])
        return real_commit_actions(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(committer_module, "_commit_actions", rival_first)
        with pytest.raises(CommitterBusyError):
            commit(source)
    assert commit(source).added_files == 0
    assert_registered_once(source)


def test_optimize_and_vacuum_on_s3(s3_server, s3_bucket, tmp_path):
    """Delta's optimize and vacuum through the command on an S3 table."""
    source = lake_source(s3_server, s3_bucket)
    paths = upload_parts(s3_server, s3_bucket, tmp_path, 4)
    commit(source)
    ids = table_event_ids(source)
    assert main(["optimize", *cli_args(s3_server, s3_bucket)]) == EXIT_OK
    assert main(["vacuum", *cli_args(s3_server, s3_bucket), "--retention-hours", "0"]) == 0
    keys = {
        o["Key"]
        for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
        if "_delta_log" not in o["Key"]
    }
    assert not keys & {f"{PREFIX}/{p}" for p in paths}
    assert len(keys) == 1
    assert table_event_ids(source) == ids
    assert commit(source).added_files == 0
