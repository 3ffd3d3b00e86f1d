"""Where a batch job's logs go: `output_dir` + `path_template`, and the S3 key prefix.

Every variable's value is made safe for a path segment and an S3 key (`/`, `..`, leading
dots and other characters become `_`), so no job metadata can lead outside `output_dir`.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from parquet_logger.s3config import s3_default

DEFAULT_PATH_TEMPLATE = "{job_category}/{job_subcategory}/v{job_version_safe}"
DEFAULT_S3_PREFIX = s3_default("prefix")  # the base the path template is appended to
TEMPLATE_VARIABLES = (
    "job_category",
    "job_subcategory",
    "environment",
    "job_version",
    "job_version_safe",
    "date",
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOT_RUNS = re.compile(r"\.{2,}")
_LEADING_DOTS = re.compile(r"^\.+")


@dataclass(frozen=True)
class JobNames:
    """The job fields the templates draw on (None: the documented default)."""

    category: str
    subcategory: str | None = None
    environment: str | None = None
    version: str | None = None


def safe_segment(value: object) -> str:
    """`value` as one path segment / S3 key segment: only letters, digits, `.`, `_`, `-`,
    never empty, never `..` anywhere, never hidden (a leading dot)."""
    text = _DOT_RUNS.sub("_", _UNSAFE.sub("_", str(value)))
    text = _LEADING_DOTS.sub(lambda m: "_" * len(m.group()), text)
    return text or "_"


def template_values(job: JobNames, day: date) -> dict[str, str]:
    """The template variables of a job, each already safe."""
    version = job.version if job.version is not None else "unversioned"
    return {
        "job_category": safe_segment(job.category),
        "job_subcategory": safe_segment(job.subcategory or "default"),
        "environment": safe_segment(job.environment or "production"),
        "job_version": safe_segment(version),
        "job_version_safe": safe_segment(str(version).replace(".", "_")),
        "date": day.isoformat(),
    }


def render(template: object, values: dict[str, str], param: str) -> list[str]:
    """Fill `template` and split it into safe, non-empty segments.

    Args:
        template: e.g. "{job_category}/{date}"; only TEMPLATE_VARIABLES, no format specs.
        values: from `template_values`.
        param: the parameter name, for error messages.

    Returns:
        The path segments (empty for an empty template).

    Raises:
        TypeError: `template` is not a string.
        ValueError: an unknown placeholder, a format spec, bad braces, or a `..` segment.
    """
    if not isinstance(template, str):
        raise TypeError(f"{param} must be a string, got {type(template).__name__}")
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template)]
    except ValueError as exc:
        raise ValueError(f"{param}: bad template {template!r} ({exc})") from None
    for name, spec, conv in fields:
        if name is None:
            continue
        if name not in TEMPLATE_VARIABLES:
            raise ValueError(
                f"{param}: unknown placeholder {{{name}}} in {template!r}; "
                f"valid: {', '.join('{' + v + '}' for v in TEMPLATE_VARIABLES)}"
            )
        if spec or conv:
            raise ValueError(f"{param}: placeholders take no format spec, got {template!r}")
    segments = [s for s in template.format(**values).split("/") if s not in ("", ".")]
    if ".." in segments:
        raise ValueError(f"{param}: {template!r} has a '..' segment; it must stay inside")
    return [safe_segment(s) for s in segments]


def local_dir(output_dir: str | os.PathLike[str], segments: list[str]) -> Path:
    """`output_dir` joined with the segments (checked to stay inside it)."""
    base = Path(output_dir)
    path = base.joinpath(*segments)
    inside = os.path.normpath(path) == os.path.normpath(base) or os.path.normpath(path).startswith(
        os.path.normpath(base).rstrip(os.sep) + os.sep
    )
    if not inside:  # unreachable with safe segments; kept as the invariant's guard
        raise ValueError(f"path_template leads outside output_dir: {path}")
    return path


def s3_prefix(
    base_prefix: str, template: str | None, segments: list[str], values: dict[str, str]
) -> str:
    """The S3 key prefix: `s3_prefix_template` filled in, else `base_prefix` + the local
    path's segments; always ends with `/` (or is empty)."""
    if template is not None:
        parts = render(template, values, "s3_prefix_template")
    else:
        base = [s for s in base_prefix.split("/") if s not in ("", ".")]
        if ".." in base:
            raise ValueError(f"s3_prefix: {base_prefix!r} has a '..' segment")
        parts = [safe_segment(s) for s in base] + segments
    return "/".join(parts) + "/" if parts else ""
