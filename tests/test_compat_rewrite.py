"""scripts/compat_rewrite.py: the old suites' imports become imports of this package."""

from __future__ import annotations

import sys
import types

import pytest

from parquet_logger import ParquetLogger, with_tags
from parquet_logger.capture.tagging import custom_id_from_tags
from scripts.compat_rewrite import SHIM_MODULE, SHIM_SOURCE, map_dotted, rewrite_source

OLD = "langchain_callback_parquet_logger"


def _run(source: str) -> dict[str, object]:
    """Executes rewritten source and returns its namespace."""
    namespace: dict[str, object] = {}
    exec(compile(source, "<rewritten>", "exec"), namespace)
    return namespace


def test_public_names_import_ours() -> None:
    """Names of the old package root come from parquet_logger, one import per name."""
    rewritten = rewrite_source(f"from {OLD} import (\n    ParquetLogger,\n    with_tags,\n)\n")
    namespace = _run(rewritten.source)
    assert namespace["ParquetLogger"] is ParquetLogger
    assert namespace["with_tags"] is with_tags
    assert rewritten.unmapped == []
    assert OLD not in rewritten.source


def test_renamed_submodule_name_maps_to_our_counterpart() -> None:
    """`tagging.extract_custom_id` is our `custom_id_from_tags`, bound under the old name."""
    rewritten = rewrite_source(f"def f():\n    from {OLD}.tagging import extract_custom_id\n")
    assert "    from parquet_logger.capture.tagging import custom_id_from_tags as" in (
        rewritten.source
    )
    assert rewritten.mapped == {
        f"{OLD}.tagging.extract_custom_id": "parquet_logger.capture.tagging:custom_id_from_tags"
    }
    assert custom_id_from_tags(["logger_custom_id:abc"]) == "abc"


def test_unmapped_name_is_reported_and_fails_only_when_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A private old name becomes a stand-in: the file still imports, its use raises."""
    shim = types.ModuleType(SHIM_MODULE)
    exec(SHIM_SOURCE, shim.__dict__)
    monkeypatch.setitem(sys.modules, SHIM_MODULE, shim)
    rewritten = rewrite_source(f"from {OLD}.storage import LocalStorage\n")
    assert rewritten.unmapped == [f"{OLD}.storage.LocalStorage"]
    local_storage = _run(rewritten.source)["LocalStorage"]
    with pytest.raises(NotImplementedError, match=r"storage\.LocalStorage"):
        local_storage("/tmp")  # type: ignore[operator]


def test_patch_targets_follow_the_module_map() -> None:
    """Dotted strings point at our module that plays the old one's part, or nowhere."""
    assert map_dotted(f"{OLD}.batch.ParquetLogger") == "parquet_logger.batch.job.ParquetLogger"
    assert map_dotted(f"{OLD}.background_retrieval") == "parquet_logger.retrieval.api"
    assert map_dotted(f"{OLD}.storage.S3Storage.client") == (
        "parquet_logger._compat_unmapped.storage.S3Storage.client"
    )
    rewritten = rewrite_source(f"patch('{OLD}.batch.ParquetLogger')\n")
    assert rewritten.source == "patch('parquet_logger.batch.job.ParquetLogger')\n"


@pytest.mark.parametrize("line", ["import json\n", "x = 'langchain_callback_parquet_logger_x'\n"])
def test_other_code_is_left_alone(line: str) -> None:
    """Lines that do not name the old package come out unchanged."""
    assert rewrite_source(line).source == line
