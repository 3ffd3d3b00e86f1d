"""Compaction's plan, decided without files: closed partitions and merge groups."""

from __future__ import annotations

from datetime import date

from parquet_logger_daemon.compaction_plan import PartFile, bins, partition_closed

TODAY = date(2026, 12, 6)


def part(name: str, size: int, schema: str = "s1") -> PartFile:
    return PartFile(f"part-{name}.parquet", size, schema)


def names(groups: list[list[PartFile]]) -> list[list[str]]:
    return [[p.name.removeprefix("part-").removesuffix(".parquet") for p in g] for g in groups]


def test_an_earlier_day_is_closed_even_with_a_writer() -> None:
    """A date before today (UTC) is closed; today, or no date, is open while a writer runs."""
    assert partition_closed("date=2026-12-05", TODAY, writer_running=True)
    assert partition_closed("date=2026-12-05/event_type=llm_end", TODAY, writer_running=True)
    assert not partition_closed("date=2026-12-06", TODAY, writer_running=True)
    assert not partition_closed("event_type=llm_end", TODAY, writer_running=True)
    assert not partition_closed("", TODAY, writer_running=True)


def test_every_partition_is_closed_without_a_writer() -> None:
    """No writer runs: nothing adds files, so every partition may be merged."""
    for partition in ("date=2026-12-06", "event_type=x", ""):
        assert partition_closed(partition, TODAY, writer_running=False)


def test_groups_stay_under_the_target_in_name_order() -> None:
    """Files are grouped in time (name) order, each group up to the target size."""
    files = [part("c", 40), part("a", 40), part("b", 40), part("d", 40), part("e", 40)]
    assert names(bins(files, 100)) == [["a", "b"], ["c", "d"]]  # e alone is not rewritten


def test_a_file_of_another_schema_starts_a_new_group() -> None:
    """Only files of one schema are merged together."""
    files = [part("a", 1), part("b", 1), part("c", 1, "s2"), part("d", 1, "s2"), part("e", 1)]
    assert names(bins(files, 100)) == [["a", "b"], ["c", "d"]]


def test_large_files_are_left_alone() -> None:
    """A file at or above the target is never merged; neither is a single small file."""
    assert bins([part("a", 500), part("b", 10), part("c", 500)], 100) == []
