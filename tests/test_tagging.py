"""with_tags and custom-id extraction."""

from __future__ import annotations

import pytest

from parquet_logger import with_tags
from parquet_logger.capture.tagging import custom_id_from_tags


def test_custom_id_becomes_a_tag():
    """The id travels as `logger_custom_id:<id>` beside the other tags."""
    config = with_tags("a", custom_id="row-7", tags=["b"])
    assert config["tags"] == ["a", "b", "logger_custom_id:row-7"]
    assert custom_id_from_tags(config["tags"]) == "row-7"


def test_base_config_is_never_mutated():
    """A reused base config does not collect the ids of earlier rows."""
    base = {"tags": ["job"], "metadata": {"k": 1}, "run_name": "r"}
    first = with_tags(custom_id="1", config=base)
    second = with_tags(custom_id="2", config=base)
    assert base == {"tags": ["job"], "metadata": {"k": 1}, "run_name": "r"}
    assert second["tags"] == ["job", "logger_custom_id:2"]
    assert first["metadata"] is not base["metadata"]
    assert custom_id_from_tags(with_tags(custom_id="3", config=first)["tags"]) == "3"


def test_replace_tags_and_description():
    """replace_tags drops the base tags; a description is kept as its own tag."""
    config = with_tags(
        custom_id="x", custom_id_description="why", config={"tags": ["old"]}, replace_tags=True
    )
    assert config["tags"] == ["logger_custom_id:x", "logger_custom_id_description:why"]


def test_first_custom_id_wins_when_reading():
    """Tags from several sources: the first custom id is the row's."""
    assert custom_id_from_tags(["x", "logger_custom_id:a", "logger_custom_id:b"]) == "a"
    assert custom_id_from_tags(None) == ""


def test_non_string_tags_are_rejected():
    """A tag that is not a string is a TypeError naming tags."""
    with pytest.raises(TypeError, match="tags"):
        with_tags(tags=[1])  # type: ignore[list-item]
