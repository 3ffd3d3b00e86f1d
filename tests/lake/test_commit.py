"""`lake commit` on a local directory: the real writer's files registered in place, once
each, incrementally; readers see exactly the files' rows; one committer at a time."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from deltalake.transaction import AddAction, RemoveAction

from parquet_logger.errors import CommitterBusyError
from parquet_logger.lake import LakeSource, commit
from parquet_logger.lake import committer as committer_module
from parquet_logger.lake.cli import EXIT_BUSY, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from parquet_logger.lake.lock import committer_lock
from parquet_logger.transport.statedir import STATE_FOLDER
from tests.lake.tables import (
    assert_registered_once,
    log_adds,
    part_table,
    polars_event_ids,
    table_event_ids,
    write_parts,
)
from tests.scenarios.producers import log_llm_run


def digests(root: Path) -> dict[str, str]:
    """sha256 of every Parquet file under `root` outside the state folder and the log."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*.parquet")
        if not {STATE_FOLDER, "_delta_log"} & set(p.relative_to(root).parts)
    }


def test_real_writer_files_registered_in_place_then_only_new_ones(make_logger, log_dir):
    """Log, flush, commit; log more, commit again: the second commit adds only the new
    files, no file is rewritten, and deltalake and Polars read every row once."""
    logger = make_logger(partition_on=["date", "event_type"])
    for i in range(20):
        log_llm_run(logger, f"first-{i}")
    logger.flush(30)
    before = digests(log_dir)
    source = LakeSource(str(log_dir))

    first = commit(source)

    assert (first.version, first.added_files, first.added_rows) == (0, len(before), 40)
    table = DeltaTable(str(log_dir))
    assert table.metadata().partition_columns == ["date", "event_type"]
    assert table.to_pyarrow_table().num_rows == 40
    assert_registered_once(source)

    for i in range(10):
        log_llm_run(logger, f"second-{i}")
    logger.flush(30)
    after = digests(log_dir)
    second = commit(source)

    assert (second.version, second.known_files, second.added_rows) == (1, len(before), 20)
    assert second.added_files == len(after) - len(before) > 0
    assert_registered_once(source)
    assert polars_event_ids(source) == table_event_ids(source)
    assert len(table_event_ids(source)) == 60
    assert digests(log_dir) == after  # registered where they are, byte for byte
    custom_ids = DeltaTable(str(log_dir)).to_pyarrow_table(columns=["custom_id"])["custom_id"]
    assert sorted(set(custom_ids.to_pylist())) == sorted(
        [f"first-{i}" for i in range(20)] + [f"second-{i}" for i in range(10)]
    )


def test_flat_directory_becomes_an_unpartitioned_table(make_logger, log_dir):
    """partition_on=None: a table without partition columns over the flat files."""
    logger = make_logger(partition_on=None)
    for i in range(5):
        log_llm_run(logger, f"flat-{i}")
    logger.flush(30)
    source = LakeSource(str(log_dir))
    commit(source)
    assert DeltaTable(str(log_dir)).metadata().partition_columns == []
    assert_registered_once(source)


def test_rerun_registers_nothing_and_makes_no_commit(tmp_path):
    """A commit with nothing new is a no-op: same version, no second add of any file."""
    write_parts(tmp_path, 3)
    source = LakeSource(str(tmp_path))
    commit(source)
    again = commit(source)
    assert (again.version, again.added_files, again.known_files) == (0, 0, 3)
    assert_registered_once(source)


def test_temporaries_state_folder_and_strays_are_left_out(tmp_path):
    """In-flight `.part-*.parquet.tmp`, the state folder and non-hive folders are not data."""
    write_parts(tmp_path, 2)
    (tmp_path / "date=2026-12-01" / ".part-x.parquet.tmp").write_bytes(b"partial")
    write_parts(tmp_path, 1, folder=f"{STATE_FOLDER}/host/spool/date=2026-12-01")
    write_parts(tmp_path, 1, folder="backup")
    source = LakeSource(str(tmp_path))
    assert commit(source).added_files == 2
    assert len(log_adds(source)) == 2


def test_empty_directory_creates_no_table(tmp_path):
    """Nothing to register: exit 0, no `_delta_log/`."""
    assert main(["commit", str(tmp_path)]) == EXIT_OK
    assert not (tmp_path / "_delta_log").exists()


def test_missing_directory_is_a_failure(tmp_path, capsys):
    """A mistyped local directory: exit 1, not an empty success."""
    assert main(["commit", str(tmp_path / "no-such-dir")]) == EXIT_FAILURE
    assert "no-such-dir" in capsys.readouterr().err


def test_mixed_partitioning_fails_and_registers_nothing(tmp_path, capsys):
    """Flat and date-partitioned files in one directory: exit 1 and no table."""
    write_parts(tmp_path, 1)
    write_parts(tmp_path, 1, folder="")
    assert main(["commit", str(tmp_path)]) == EXIT_FAILURE
    assert "one partitioning" in capsys.readouterr().err
    assert not (tmp_path / "_delta_log").exists()


def test_a_file_whose_schema_does_not_fit_is_refused(tmp_path, capsys):
    """A column of another type: exit 1, the table stays at its version."""
    write_parts(tmp_path, 2)
    source = LakeSource(str(tmp_path))
    commit(source)
    plain = part_table(1000)
    index = plain.schema.get_field_index("pid")
    odd = plain.set_column(index, "pid", plain["pid"].cast("string"))  # pid as text
    (tmp_path / "date=2026-12-02").mkdir()
    pq.write_table(odd, tmp_path / "date=2026-12-02" / "part-odd.parquet")
    assert main(["commit", str(tmp_path)]) == EXIT_FAILURE
    assert "'pid'" in capsys.readouterr().err
    assert DeltaTable(str(tmp_path)).version() == 0


def test_bad_usage_exits_2(tmp_path):
    """An endpoint for a local source and an unknown command are usage errors."""
    assert main(["commit", str(tmp_path), "--s3-endpoint-url", "http://x"]) == EXIT_USAGE
    assert main(["compact", str(tmp_path)]) == EXIT_USAGE


def test_second_committer_is_refused_with_exit_3(tmp_path):
    """While one committer holds the lock, the command in another process exits 3."""
    write_parts(tmp_path, 2)
    with committer_lock(LakeSource(str(tmp_path))):
        proc = subprocess.run(
            [sys.executable, "-m", "parquet_logger.lake", "commit", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == EXIT_BUSY, proc.stderr
    assert "another committer" in proc.stderr
    assert not (tmp_path / "_delta_log").exists()


def test_a_commit_that_lost_the_race_registers_nothing(tmp_path, monkeypatch):
    """Another host's committer (no shared lock) registers the same new files between our
    snapshot and our commit: ours fails as busy instead of being rebased onto it (which
    would add those files a second time); the rerun finds nothing left to do."""
    write_parts(tmp_path, 2)
    source = LakeSource(str(tmp_path))
    commit(source)
    new = write_parts(tmp_path, 2)
    real_commit_actions = committer_module._commit_actions

    def rival_first(*args, **kwargs):
        table = DeltaTable(str(tmp_path))
        adds: list[AddAction | RemoveAction] = [
            AddAction(p, (tmp_path / p).stat().st_size, {"date": "2026-12-01"}, 0, True, "{}")
            for p in new
        ]
        table.create_write_transaction(adds, "append", table.schema(), partition_by=["date"])
        return real_commit_actions(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(committer_module, "_commit_actions", rival_first)
        with pytest.raises(CommitterBusyError, match="run again"):
            commit(source)
    assert commit(source).added_files == 0
    assert_registered_once(source)
