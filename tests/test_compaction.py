"""`compact`, run as a real process: small files merged, every crash step recovered exactly
once, and the partitions and directories it must not touch refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pandas as pd
import pytest
from parquet_logger_daemon import compaction
from parquet_logger_daemon.compact_command import EXIT_REFUSED

from parquet_logger import ParquetLogger
from parquet_logger.transport.statedir import STATE_FOLDER, StateDir
from tests.support import read_rows, stop_writer, wait_for, writer_running

FILES = 20
ROWS_PER_FILE = 10
PAST = "date=2020-01-02"
STEPS = ["merged", "journaled", "aside", "placed", "swapped", "deleted"]


def compact(
    log_dir: Path, *args: str, kill_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != compaction.KILL_AT_ENV}
    if kill_at is not None:
        env[compaction.KILL_AT_ENV] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "parquet_logger_daemon", "compact", "--dir", str(log_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def leftovers(log_dir: Path) -> list[Path]:
    """Compaction's temporaries, aside files and journal, wherever they are."""
    found = [p for p in log_dir.rglob(".*") if p.name.startswith((".compact-", ".part-"))]
    return found + list(log_dir.rglob("compact.json"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log directory (no writer, no state) of FILES small files in today's partition."""
    log_dir = tmp_path_factory.mktemp("template") / "logs"
    logger = ParquetLogger(log_dir, flush_interval_s=3600)
    try:
        for f in range(FILES):
            for i in range(ROWS_PER_FILE):
                logger.on_llm_start(
                    {"name": "m"}, [f"p{i}"], run_id=uuid4(), tags=[f"logger_custom_id:{f}-{i}"]
                )
            logger.flush(timeout=30)
    finally:
        logger.close(timeout=30)
    stop_writer(log_dir)
    shutil.rmtree(log_dir / STATE_FOLDER)
    (today,) = log_dir.glob("date=*")
    assert len(parts(today)) == FILES  # one file per flush(), however busy the machine
    return log_dir


@pytest.fixture
def logs(template: Path, log_dir: Path) -> Path:
    """A copy of the template, its partition moved to a past date."""
    shutil.copytree(template, log_dir)
    today = next(log_dir.glob("date=*"))
    today.rename(log_dir / PAST)
    return log_dir


def target_for_groups(folder: Path, groups: int) -> int:
    """A --target-bytes that makes about `groups` merged files of the folder's parts."""
    sizes = [p.stat().st_size for p in parts(folder)]
    return sum(sizes) // groups + max(sizes)


def assert_all_rows_once(log_dir: Path, expected: pd.DataFrame) -> None:
    df = read_rows(log_dir)
    assert len(df) == FILES * ROWS_PER_FILE
    assert df["event_id"].is_unique
    assert set(df["event_id"]) == set(expected["event_id"])


def test_small_files_merge_into_few_near_the_target(logs):
    """20 files become 3, with every row once and the same columns and hive keys."""
    before = read_rows(logs)
    result = compact(logs, "--target-bytes", str(target_for_groups(logs / PAST, 3)))
    assert result.returncode == 0, result.stderr
    assert f"{PAST}: {FILES} files -> 3" in result.stdout
    assert len(parts(logs / PAST)) == 3
    assert_all_rows_once(logs, before)
    after = read_rows(logs)
    assert list(after.columns) == list(before.columns)
    assert leftovers(logs) == []
    assert compact(logs, "--target-bytes", "1").returncode == 0  # nothing left to merge


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_each_step_the_rerun_leaves_every_row_once(logs, step):
    """SIGKILL after each step: readers never see a row twice, and the rerun finishes (or
    rolls back) so that every row is there exactly once."""
    before = read_rows(logs)
    target = str(target_for_groups(logs / PAST, 3))
    crashed = compact(logs, "--target-bytes", target, kill_at=step)
    assert crashed.returncode == -9, crashed.stderr
    seen = read_rows(logs)
    assert seen["event_id"].is_unique  # a listing during compaction never counts twice
    if step == "aside":  # between one group's renames: its rows are briefly not listed
        assert len(seen) < FILES * ROWS_PER_FILE
    else:
        assert len(seen) == FILES * ROWS_PER_FILE
    rerun = compact(logs, "--target-bytes", target)
    assert rerun.returncode == 0, rerun.stderr
    assert_all_rows_once(logs, before)
    assert len(parts(logs / PAST)) <= 3  # the rerun may merge the finished files further
    assert leftovers(logs) == []


def test_a_starting_writer_finishes_an_interrupted_compaction(logs, make_logger):
    """A compaction killed mid-swap is finished by the next writer to start."""
    before = read_rows(logs)
    target = str(target_for_groups(logs / PAST, 3))
    assert compact(logs, "--target-bytes", target, kill_at="aside").returncode == -9
    journal = StateDir.for_log_dir(logs).compaction_journal
    assert journal.exists()
    logger = make_logger()
    wait_for(lambda: writer_running(logs) and not journal.exists(), 15, "the writer's recovery")
    logger.close(timeout=30)
    assert_all_rows_once(logs, before)
    assert leftovers(logs) == []


def test_a_delta_table_is_refused(logs):
    """With _delta_log/ present only `lake optimize` may merge: exit 3, nothing touched."""
    (logs / "_delta_log").mkdir()
    result = compact(logs)
    assert result.returncode == EXIT_REFUSED == 3
    assert "lake optimize" in result.stderr
    assert len(parts(logs / PAST)) == FILES


def test_todays_partition_of_a_running_writer_is_refused_unless_forced(
    template, start_writer, log_dir
):
    """A writer runs: today's partition is refused (named) or skipped (all), --force merges
    it; an earlier day's partition is merged all the same."""
    shutil.copytree(template, log_dir)
    today = log_dir / f"date={datetime.now(UTC):%Y-%m-%d}"
    shutil.copytree(today, log_dir / PAST)
    start_writer()
    wait_for(lambda: writer_running(log_dir), 15, "the writer to start")

    named = compact(log_dir, "--partition", today.name)
    assert named.returncode == 3
    assert "still written" in named.stderr
    every = compact(log_dir)
    assert every.returncode == 0, every.stderr
    assert "skipped" in every.stderr
    assert len(parts(today)) == FILES
    assert len(parts(log_dir / PAST)) == 1
    forced = compact(log_dir, "--partition", today.name, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(parts(today)) == 1
    assert len(read_rows(log_dir)) == 2 * FILES * ROWS_PER_FILE


def test_a_second_compaction_is_refused_while_one_runs(logs):
    """Only one compaction per directory: the lock holder makes a second exit 3."""
    with compaction.locked(StateDir.for_log_dir(logs)):
        result = compact(logs)
    assert result.returncode == 3
    assert "another compaction" in result.stderr
    assert len(parts(logs / PAST)) == FILES


def test_files_waiting_for_upload_are_left_alone(logs):
    """A file still in a writer's S3 spool is not merged (its upload needs it)."""
    spool = logs / STATE_FOLDER / "otherhost" / "spool"
    spool.mkdir(parents=True)
    waiting = parts(logs / PAST)[0]
    (spool / f"{waiting.name}.json").write_text(f'{{"path": "{waiting}", "key": "k"}}')
    assert compact(logs).returncode == 0
    assert waiting.exists()
    assert len(parts(logs / PAST)) == 2


def test_the_package_command_runs_compact(logs):
    """`parquet-logger compact` is the same command."""
    result = subprocess.run(
        [sys.executable, "-m", "parquet_logger.cli", "compact", "--dir", str(logs)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(parts(logs / PAST)) == 1
    assert len(read_rows(logs)) == FILES * ROWS_PER_FILE
