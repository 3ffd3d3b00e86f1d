"""`lake optimize` and `lake vacuum`: Delta's compaction and clean-up over registered files;
a later commit never brings merged-away files back, and vacuum never deletes a file that
was not committed yet."""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable

from parquet_logger.lake import LakeSource, commit, optimize, vacuum
from parquet_logger.lake.cli import EXIT_FAILURE, EXIT_OK, main
from tests.lake.tables import ROWS_PER_PART, log_adds, table_event_ids, write_parts


def plain_rows(root) -> int:
    """Rows a plain Parquet reader (pyarrow dataset over the directory) sees."""
    return ds.dataset(root, format="parquet", partitioning="hive").count_rows()


def test_optimize_then_vacuum(tmp_path, capsys):
    """optimize merges the files (the table reads each row once, plain readers twice until
    vacuum); commits in between add nothing; vacuum deletes the merged-away files."""
    originals = write_parts(tmp_path, 5)
    source = LakeSource(str(tmp_path))
    commit(source)
    rows = 5 * ROWS_PER_PART
    ids = table_event_ids(source)

    assert main(["optimize", str(tmp_path)]) == EXIT_OK
    assert "count those rows twice" in capsys.readouterr().out
    assert len(DeltaTable(str(tmp_path)).file_uris()) == 1
    assert table_event_ids(source) == ids
    assert plain_rows(tmp_path) == 2 * rows  # the documented double count

    assert commit(source).added_files == 0  # merged-away files are not new files
    assert main(["vacuum", str(tmp_path), "--retention-hours", "0", "--dry-run"]) == EXIT_OK
    assert all((tmp_path / p).exists() for p in originals)
    assert main(["vacuum", str(tmp_path), "--retention-hours", "0"]) == EXIT_OK
    assert "deleted 5 file(s)" in capsys.readouterr().out
    assert not any((tmp_path / p).exists() for p in originals)
    assert plain_rows(tmp_path) == rows
    assert table_event_ids(source) == ids
    assert commit(source).added_files == 0


def test_vacuum_keeps_files_not_yet_committed(tmp_path):
    """A part file uploaded after the last commit survives a zero-retention vacuum (lite,
    never full) and the next commit registers it."""
    write_parts(tmp_path, 2)
    source = LakeSource(str(tmp_path))
    commit(source)
    optimize(source)
    late = write_parts(tmp_path, 1)
    assert len(vacuum(source, retention_hours=0)) == 2
    assert (tmp_path / late[0]).exists()
    assert commit(source).added_files == 1
    assert late[0] in log_adds(source)
    assert len(table_event_ids(source)) == 3 * ROWS_PER_PART


def test_default_retention_keeps_recently_removed_files(tmp_path):
    """With the default 7-day retention, files merged away a moment ago stay; the table
    keeps tombstones (what tells a merged-away file from a new one) far longer."""
    paths = write_parts(tmp_path, 3)
    source = LakeSource(str(tmp_path))
    commit(source)
    configuration = DeltaTable(str(tmp_path)).metadata().configuration
    assert configuration["delta.deletedFileRetentionDuration"] == "interval 30 days"
    optimize(source)
    assert vacuum(source) == []
    assert all((tmp_path / p).exists() for p in paths)


def test_optimize_without_a_table_fails(tmp_path, capsys):
    """optimize and vacuum need a table: exit 1 with a hint to commit first."""
    write_parts(tmp_path, 1)
    assert main(["optimize", str(tmp_path)]) == EXIT_FAILURE
    assert "lake commit" in capsys.readouterr().err
    with pytest.raises(ValueError, match="retention_hours"):
        vacuum(LakeSource(str(tmp_path)), retention_hours=-1)
