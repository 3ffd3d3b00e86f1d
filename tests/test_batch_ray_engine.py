"""engine="ray" without a cluster: how rows are cut into chunks, and the error when Ray is
missing (the runs themselves are in tests/ray/)."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from parquet_logger.batch.ray_engine import MAX_CHUNK_ROWS, chunk_bounds
from parquet_logger.batch.run import batch_run
from tests.batch_models import ScriptedChat


@pytest.mark.parametrize(
    ("rows", "slots", "max_concurrency"),
    [(0, 2, 10), (1, 8, 10), (40, 2, 2), (10_000, 2, 10), (10_000, 64, 100), (7, 3, 1)],
)
def test_chunks_cover_every_row_once(rows: int, slots: int, max_concurrency: int) -> None:
    """Contiguous, non-empty chunks that cover the rows in order, none over the maximum."""
    bounds = chunk_bounds(rows, slots, max_concurrency)
    covered = [i for start, stop in bounds for i in range(start, stop)]
    assert covered == list(range(rows))
    assert all(0 < stop - start <= MAX_CHUNK_ROWS for start, stop in bounds)


def test_chunk_size_keeps_rows_in_flight_and_slots_busy() -> None:
    """A chunk holds at least 2 x max_concurrency rows, and every slot gets several chunks
    when there are enough rows."""
    assert chunk_bounds(40, 2, 2)[0] == (0, 5)  # 40 / (4 chunks x 2 slots)
    assert chunk_bounds(100, 2, 20)[0] == (0, 40)  # 2 x max_concurrency
    assert chunk_bounds(10, 2, 20)[0] == (0, 5)  # but no more than a slot's share
    assert len(chunk_bounds(10_000, 2, 10)) == 8


async def test_missing_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """engine="ray" without Ray installed: an ImportError naming the extra to install."""
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    df = pd.DataFrame({"prompt": ["a"]})
    with pytest.raises(ImportError, match=r"parquet-logger\[ray\]"):
        await batch_run(df, ScriptedChat(), engine="ray", show_progress=False)
