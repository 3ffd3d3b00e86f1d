"""Job path templates and S3 key prefixes: variables, validation, sanitising."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from parquet_logger.batch.job_paths import (
    DEFAULT_PATH_TEMPLATE,
    JobNames,
    local_dir,
    render,
    s3_prefix,
    safe_segment,
    template_values,
)

DAY = date(2026, 11, 26)


def values(**job: str | None) -> dict[str, str]:
    names = JobNames(category=job.pop("category", None) or "research", **job)
    return template_values(names, DAY)


def test_default_template_uses_seed_defaults() -> None:
    """No subcategory or version gives default/vunversioned, as in the seed package."""
    assert render(DEFAULT_PATH_TEMPLATE, values(), "path_template") == [
        "research",
        "default",
        "vunversioned",
    ]


def test_every_variable_is_filled() -> None:
    """All six variables are available; job_version_safe has no dots."""
    filled = values(subcategory="qa", environment="dev", version="1.2.3")
    template = (
        "{job_category}/{job_subcategory}/{environment}/{job_version}/{job_version_safe}/{date}"
    )
    assert render(template, filled, "path_template") == [
        "research",
        "qa",
        "dev",
        "1.2.3",
        "1_2_3",
        "2026-11-26",
    ]


def test_unknown_placeholder_lists_the_valid_ones() -> None:
    """An unknown placeholder is a ValueError naming it, the parameter and the valid set."""
    with pytest.raises(ValueError, match=r"path_template: unknown placeholder \{team\}") as info:
        render("{team}/{date}", values(), "path_template")
    assert "{job_version_safe}" in str(info.value)


@pytest.mark.parametrize("template", ["{date:>20}", "{job_category!r}", "{job_category", "{}"])
def test_malformed_templates_are_rejected(template: str) -> None:
    """Format specs, conversions, bad braces and positional fields are ValueErrors."""
    with pytest.raises(ValueError, match="path_template"):
        render(template, values(), "path_template")


def test_non_string_template_is_a_type_error() -> None:
    """A template that is not a string is a TypeError naming the parameter."""
    with pytest.raises(TypeError, match="s3_prefix_template"):
        render(None, values(), "s3_prefix_template")


@pytest.mark.parametrize(
    "value", ["../../etc", "a/b", "..", ".hidden", "x y:z*?", "", "é", "a\\..\\b", "a/../b"]
)
def test_values_become_one_safe_segment(value: str) -> None:
    """Slashes, `..`, leading dots and unsafe characters never survive into a segment."""
    segment = safe_segment(value)
    assert "/" not in segment
    assert ".." not in segment
    assert not segment.startswith(".")
    assert segment
    assert set(segment) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def test_hostile_values_stay_inside_output_dir(tmp_path: Path) -> None:
    """Job names crafted to escape end up as folders under output_dir."""
    filled = values(category="../../..", subcategory="/etc/passwd", version="../x")
    path = local_dir(tmp_path, render(DEFAULT_PATH_TEMPLATE, filled, "path_template"))
    assert tmp_path in path.parents
    assert len(path.relative_to(tmp_path).parts) == 3


def test_dot_dot_in_the_template_itself_is_rejected() -> None:
    """A template that climbs out with a literal `..` is a ValueError."""
    with pytest.raises(ValueError, match=r"'\.\.'"):
        render("../{job_category}", values(), "path_template")


def test_absolute_and_empty_segments_are_dropped(tmp_path: Path) -> None:
    """A leading `/`, `//` and `.` segments do not lead out of or around output_dir."""
    segments = render("/{job_category}//./{date}/", values(), "path_template")
    assert segments == ["research", "2026-11-26"]
    assert local_dir(tmp_path, segments) == tmp_path / "research" / "2026-11-26"
    assert local_dir(tmp_path, render("", values(), "path_template")) == tmp_path


def test_s3_prefix_defaults_to_base_prefix_plus_local_path() -> None:
    """Without s3_prefix_template the key prefix is s3_prefix + the job's local path."""
    filled = values(subcategory="qa")
    segments = render(DEFAULT_PATH_TEMPLATE, filled, "path_template")
    assert s3_prefix("langchain-logs/", None, segments, filled) == (
        "langchain-logs/research/qa/vunversioned/"
    )
    assert s3_prefix("", None, segments, filled) == "research/qa/vunversioned/"


def test_s3_prefix_template_is_filled_and_sanitised() -> None:
    """The seed's `ml/{job_category}/{date}/` gives a clean key prefix, even for odd names."""
    filled = values(category="prod uction/../x")
    prefix = s3_prefix("ignored/", "ml/{job_category}/{date}/", [], filled)
    assert prefix == f"ml/{safe_segment('prod uction/../x')}/2026-11-26/"
    assert ".." not in prefix
    assert " " not in prefix


def test_s3_prefix_template_rejects_unknown_placeholders() -> None:
    """s3_prefix_template is validated like path_template, naming itself."""
    with pytest.raises(ValueError, match=r"s3_prefix_template: unknown placeholder \{bucket\}"):
        s3_prefix("", "{bucket}/x", [], values())
