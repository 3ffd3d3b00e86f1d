"""Which files a commit adds: the listing's filter and the pure diff against a snapshot."""

from __future__ import annotations

import pytest

from parquet_logger.errors import LakeError
from parquet_logger.lake.listing import PartFile, partition_of
from parquet_logger.lake.plan import TableSnapshot, plan_commit


def part(path: str) -> PartFile:
    partition = partition_of(path)
    assert partition is not None
    return PartFile(path, 100, 0, partition)


@pytest.mark.parametrize(
    ("path", "partition"),
    [
        ("date=2026-12-01/part-1.parquet", (("date", "2026-12-01"),)),
        (
            "date=2026-12-01/event_type=llm_end/part-1.parquet",
            (("date", "2026-12-01"), ("event_type", "llm_end")),
        ),
        ("event_type=llm_end/part-1.parquet", (("event_type", "llm_end"),)),
        ("part-1.parquet", ()),
    ],
)
def test_part_files_and_their_partition(path, partition):
    """Hive folders become the partition, outermost first; a flat file has none."""
    assert partition_of(path) == partition


@pytest.mark.parametrize(
    "path",
    [
        "_parquet_logger/host/spool/date=2026-12-01/part-1.parquet",
        "_delta_log/00000000000000000000.checkpoint.parquet",
        "date=2026-12-01/.part-1.parquet.tmp",
        "date=2026-12-01/.part-1.parquet",
        "date=2026-12-01/_part-1.parquet",
        "date=2026-12-01/part-1.json",
        "backup/part-1.parquet",
        "date=/part-1.parquet",
    ],
)
def test_state_log_and_in_flight_files_are_not_part_files(path):
    """The state folder, the Delta log, dot-files, temporaries and non-hive folders."""
    assert partition_of(path) is None


def test_a_new_table_takes_every_file_and_its_partitioning():
    """Without a table, every listed file is added; the partition columns are its keys."""
    listing = [part("date=2026-12-01/part-1.parquet"), part("date=2026-12-02/part-2.parquet")]
    plan = plan_commit(listing, None)
    assert plan.additions == tuple(listing)
    assert plan.partition_columns == ("date",)
    assert plan.creates_table


def test_known_files_live_or_removed_are_not_added_again():
    """Live files and files removed by optimize (not yet vacuumed) are both known."""
    listing = [part(f"date=2026-12-01/part-{i}.parquet") for i in range(4)]
    snapshot = TableSnapshot(
        version=3,
        partition_columns=("date",),
        known_paths=frozenset({listing[0].path, "/" + listing[1].path}),
    )
    plan = plan_commit(listing, snapshot)
    assert plan.additions == tuple(listing[2:])
    assert not plan.creates_table


def test_nothing_new_is_an_empty_plan():
    """A rerun over a fully registered listing adds nothing."""
    listing = [part("part-1.parquet")]
    snapshot = TableSnapshot(0, (), frozenset({"part-1.parquet"}))
    assert plan_commit(listing, snapshot).additions == ()


def test_mixed_partitioning_is_refused():
    """Files partitioned two ways cannot form one table: a clear error, no plan."""
    listing = [part("date=2026-12-01/part-1.parquet"), part("part-2.parquet")]
    with pytest.raises(LakeError, match="one partitioning"):
        plan_commit(listing, None)


def test_files_partitioned_unlike_the_table_are_refused():
    """A new file with other hive keys than the table's columns is an error."""
    listing = [part("date=2026-12-01/event_type=llm_end/part-1.parquet")]
    with pytest.raises(LakeError, match=r"\['date'\]"):
        plan_commit(listing, TableSnapshot(0, ("date",), frozenset()))
