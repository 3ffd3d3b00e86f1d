"""Custom ids travel as a `logger_custom_id:<id>` tag in a LangChain run config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from langchain_core.runnables import RunnableConfig

CUSTOM_ID_PREFIX = "logger_custom_id:"
CUSTOM_ID_DESCRIPTION_PREFIX = "logger_custom_id_description:"


def with_tags(
    *extra_tags: str,
    custom_id: str | None = None,
    custom_id_description: str | None = None,
    tags: Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
    replace_tags: bool = False,
) -> RunnableConfig:
    """A LangChain config carrying tags and a custom id, without mutating `config`.

    Args:
        *extra_tags: tags to add.
        custom_id: the row id to find this call's events by (`custom_id` column).
        custom_id_description: a free-text note stored as a tag beside the id.
        tags: more tags, as a list.
        config: a base config to extend; it is copied, never modified, so one base config can
            be reused for many rows without leaking ids between them.
        replace_tags: drop the base config's tags instead of extending them.

    Returns:
        A new config (a plain dict).
    """
    result: dict[str, Any] = dict(config) if config else {}
    base = [] if replace_tags else list(result.get("tags") or [])
    if custom_id is not None:
        # One custom id per config: a base config's id is replaced, not accumulated.
        base = [t for t in base if not str(t).startswith(CUSTOM_ID_PREFIX)]
    if isinstance(tags, str):
        tags = [tags]
    new_tags = base + list(extra_tags) + list(tags or [])
    if custom_id is not None:
        new_tags.append(f"{CUSTOM_ID_PREFIX}{custom_id}")
    if custom_id_description is not None:
        new_tags.append(f"{CUSTOM_ID_DESCRIPTION_PREFIX}{custom_id_description}")
    for tag in new_tags:
        if not isinstance(tag, str):
            raise TypeError(f"with_tags(): tags must be strings, got {type(tag).__name__}")
    result["tags"] = list(dict.fromkeys(new_tags))
    if "metadata" in result and isinstance(result["metadata"], Mapping):
        result["metadata"] = dict(result["metadata"])
    return cast(RunnableConfig, result)


def custom_id_from_tags(tags: Sequence[object] | None) -> str:
    """The id of the first `logger_custom_id:` tag, or "" when there is none; tags that are
    not strings (LangChain does not check them: `tags=[1, None]` arrives as given) are
    passed over."""
    if tags:
        for tag in tags:
            if isinstance(tag, str) and tag.startswith(CUSTOM_ID_PREFIX):
                return tag[len(CUSTOM_ID_PREFIX) :]
    return ""
