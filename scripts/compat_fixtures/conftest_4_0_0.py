"""Fixtures the old package's test suites use but whose sdists do not ship (no conftest.py).

Written for scripts/compat.py, which copies this file into each rewritten suite as its
conftest.py. Both 3.0.2 and 4.0.0 use the same four fixtures; their contracts (names, the
values the tests index into, a keyword-only `ainvoke`) are those the old tests rely on.

With COMPAT_RINGS_FILE set, it records every shared-memory ring this process maps, so that
scripts/compat.py can find the rings a test left behind (a leak it reports, then removes).

It also makes sure the suite runs against THIS package: the old package is installed in the
same environment (for benchmarks), so any import of it is refused, and `parquet_logger` must
come from the checkout named by COMPAT_EXPECT_ROOT.
"""

from __future__ import annotations

import functools
import importlib.abc
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import AsyncMock, Mock

import pandas as pd
import pytest

OLD_PACKAGE = "langchain_callback_parquet_logger"


class _RefuseOldPackage(importlib.abc.MetaPathFinder):
    """Fails every import of the old package, so no test can silently exercise it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname == OLD_PACKAGE or fullname.startswith(OLD_PACKAGE + "."):
            raise ImportError(f"compat: {fullname} is the old package; the suite must use ours")
        return None


def _check_ours() -> None:
    """Refuses to run unless `parquet_logger` is the checkout under test."""
    sys.meta_path.insert(0, _RefuseOldPackage())
    import parquet_logger

    expected = Path(os.environ["COMPAT_EXPECT_ROOT"]).resolve()
    actual = Path(parquet_logger.__file__).resolve()
    if expected not in actual.parents:
        raise RuntimeError(f"compat: parquet_logger imported from {actual}, not from {expected}")


def _cap_ring_size(ring_bytes: int) -> None:
    """Makes `ring_size_bytes` default to `ring_bytes` for every logger the suite builds.

    Each logger of ours reserves its ring up front, and the old tests build some fifty
    loggers in one process without closing them: at the default 128 MiB that holds ~6 GiB of
    /dev/shm (enough to get pytest OOM-killed on a small machine). No old test depends on it.
    """
    from parquet_logger.capture.handler import ParquetLogger

    original = ParquetLogger.__init__

    @functools.wraps(original)
    def init(self: ParquetLogger, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("ring_size_bytes", ring_bytes)
        original(self, *args, **kwargs)

    ParquetLogger.__init__ = init  # type: ignore[method-assign]


if os.environ.get("COMPAT_EXPECT_ROOT"):
    _check_ours()
if os.environ.get("COMPAT_RING_BYTES"):
    _cap_ring_size(int(os.environ["COMPAT_RING_BYTES"]))


RING_PREFIX = "/dev/shm/parquet-logger-"
_rings_seen: set[str] = set()


def _record_mapped_rings() -> None:
    """Appends the rings mapped by this process that were not recorded yet."""
    out = os.environ.get("COMPAT_RINGS_FILE")
    if not out:
        return
    with open("/proc/self/maps") as maps:
        mapped = {line.split(maxsplit=5)[5].strip() for line in maps if RING_PREFIX in line}
    new = sorted(mapped - _rings_seen)
    _rings_seen.update(mapped)
    if new:
        with open(out, "a") as sink:
            sink.writelines(f"{path}\n" for path in new)


@pytest.fixture(autouse=True)
def _record_rings() -> Iterator[None]:
    """After each test, notes the rings it made (they may outlive its log directory)."""
    yield
    _record_mapped_rings()


@pytest.fixture
def temp_log_dir(tmp_path: Path) -> str:
    """A fresh, existing log directory, as a string (the old tests join it with `/`)."""
    path = tmp_path / "logs"
    path.mkdir()
    return str(path)


@pytest.fixture
def sample_dataframe() -> pd.DataFrame:
    """Three rows with `id`, `text` and `category`; the tests derive prompts from `text`."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "text": ["Hello world", "Test message", "Sample data"],
            "category": ["greeting", "test", "sample"],
        }
    )


def _reply(prompt: Any) -> Mock:
    """An AIMessage look-alike: the old tests only read `.content`."""
    return Mock(content=f"Response to: {str(prompt)[:50]}")


@pytest.fixture
def mock_llm() -> Mock:
    """An LLM double whose `ainvoke` takes keyword arguments only, as the old `batch_run` calls it.

    The keyword-only signature is the old contract (`ainvoke(input=..., config=..., tools=...)`);
    a caller passing the prompt positionally gets a TypeError, as with the users' own doubles.
    """

    async def ainvoke(**kwargs: Any) -> Mock:
        return _reply(kwargs.get("input", ""))

    def invoke(prompt: Any, **kwargs: Any) -> Mock:
        return _reply(prompt)

    llm = Mock()
    llm.callbacks = []
    llm.invoke = Mock(side_effect=invoke)
    llm.ainvoke = AsyncMock(side_effect=ainvoke)
    return llm


@pytest.fixture
def mock_callback_events() -> dict[str, dict[str, Any]]:
    """Callback arguments for llm_start / llm_end / llm_error, keyed by event type."""
    response = Mock(llm_output={"token_usage": {"total_tokens": 10}})
    response.dict = lambda: {"generations": [["Test response"]]}
    return {
        "llm_start": {
            "serialized": {"kwargs": {"model_name": "test-model"}},
            "prompts": ["Test prompt"],
            "run_id": "test-run-123",
            "tags": ["test-tag"],
            "metadata": {"test": "metadata"},
        },
        "llm_end": {"response": response, "run_id": "test-run-123"},
        "llm_error": {"error": Exception("Test error"), "run_id": "test-run-123"},
    }
