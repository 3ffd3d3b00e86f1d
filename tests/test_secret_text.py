"""Redactor beyond key names: credential shapes in text, URLs, tool input reprs, header pairs,
the user's keys, patterns and hook, and that its options survive pickling."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from parquet_logger.encode.redaction import DEFAULT, HOOK_FAILED, REDACTED, Redactor
from parquet_logger.encode.safe_json import envelope_json, safe_json

HEX = "0123456789abcdef" * 2
HEAD = {"event_type": "custom", "timestamp": datetime(2026, 1, 1, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"my key is sk-{HEX}, use it", "my key is sk-***, use it"),
        (f"sk-proj-{HEX}", "sk-***"),
        (f"sk-ant-api03-{HEX}", "sk-***"),
        ("AKIA0123456789ABCDEF and ASIA0123456789ABCDEF", "AKIA*** and ASIA***"),
        (f"ghp_{HEX}1234", "ghp_***"),
        (f"github_pat_11AB_{HEX}", "github_pat_***"),
        (f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx{HEX}.c2ln{HEX}", "eyJ***"),
        (f"Authorization: Bearer {HEX}", "Authorization: Bearer ***"),
        ("postgresql://app:pw123@db.example/x", "postgresql://app:***@db.example/x"),
        ("https://h/v1?api_key=abc&t=a&sig=zz", "https://h/v1?api_key=***&t=a&sig=***"),
        ("rejected password=hunter2 for q", "rejected password=*** for q"),
    ],
)
def test_credential_shapes_masked(text: str, masked: str) -> None:
    """Each shape is masked in str and in JSON bytes, with its kind kept."""
    assert DEFAULT.shapes.mask_str(text) == masked
    assert orjson.loads(DEFAULT.shapes.mask_bytes(orjson.dumps(text))) == masked


@pytest.mark.parametrize(
    "text",
    [
        f"task-{HEX}",  # "sk-" inside a word
        "the bearer of bad news arrived",
        "https://h/?max_tokens=5&n=2",
        "a = b and x=1",
        "gpt-4o-mini-2024-07-18",
        "AKIA too short",
        "01a24956-27c8-703d-9d5c-59afc801a8a1",
    ],
)
def test_ordinary_text_untouched(text: str) -> None:
    """Prose, ids, model names and token-count query items are not credentials."""
    data = orjson.dumps({"t": text})
    assert DEFAULT.shapes.mask_str(text) is text
    assert DEFAULT.shapes.mask_bytes(data) is data


def test_shape_after_a_json_escape() -> None:
    """A key right after a newline (`\\n` in JSON) is still found."""
    data = orjson.dumps(f"line\nsk-{HEX}")
    assert orjson.loads(DEFAULT.shapes.mask_bytes(data)) == "line\nsk-***"


def test_header_pairs_keep_the_name() -> None:
    """Headers as [name, value] pairs: a secret name's value is masked, others kept."""
    headers = [["Authorization", "Bearer x"], ("X-Api-Key", "k"), ["Accept", "text/plain"]]
    assert DEFAULT.scrub({"headers": headers}) == {
        "headers": [["Authorization", REDACTED], ("X-Api-Key", REDACTED), ["Accept", "text/plain"]]
    }


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("{'query': 'q', 'api_key': 'plain'}", "{'query': 'q', 'api_key': '***'}"),
        ("{'q': 'x', 'token': 'a\\'b', 'o': <object at 0x1>}", None),
        ("{'query': 'q', 'max_tokens': 5}", "{'query': 'q', 'max_tokens': 5}"),
        ("plain text", "plain text"),
    ],
)
def test_tool_input_repr(text: str, masked: str | None) -> None:
    """LangChain's `str(inputs)`: secret keys' values masked, literal or not."""
    out = DEFAULT.repr_text(text)
    if masked is None:
        assert out == "{'q': 'x', 'token': '***', 'o': <object at 0x1>}"
    else:
        assert out == masked


def test_user_keys_match_every_spelling() -> None:
    """A user key name matches its camel, kebab and upper spellings; built-ins still apply."""
    redactor = Redactor(keys=["badge_no"])
    tree = {"BadgeNo": 1, "badge-no": 2, "BADGE_NO": 3, "badge": 4, "api_key": 5}
    assert redactor.scrub(tree) == {
        "BadgeNo": REDACTED,
        "badge-no": REDACTED,
        "BADGE_NO": REDACTED,
        "badge": 4,
        "api_key": REDACTED,
    }
    assert DEFAULT.scrub({"badge_no": 1}) == {"badge_no": 1}


def test_user_patterns_in_payload_and_columns() -> None:
    """User patterns mask matches in every payload string and in typed column text."""
    redactor = Redactor(patterns=[r"\b\d{3}-\d{2}-\d{4}\b", re.compile("pat-[a-z]+")])
    payload = envelope_json(HEAD, {"p": "ssn 123-45-6789 pat-abc"}, {}, 1 << 20, redactor)
    assert orjson.loads(payload)["data"]["p"] == "ssn *** ***"
    assert redactor.text("id 123-45-6789") == "id ***"


def test_hook_sees_paths_and_decides() -> None:
    """The hook gets each string with its path; what it returns is stored."""
    seen: list[tuple[str, ...]] = []

    def hook(path: tuple[str, ...], value: str) -> str:
        seen.append(path)
        return "<dropped>" if path[-1] == "content" else value

    redactor = Redactor(hook=hook)
    data = {"messages": [[{"content": "private", "type": "human"}]]}
    payload = orjson.loads(envelope_json(HEAD, data, {}, 1 << 20, redactor))
    assert payload["data"]["messages"][0][0] == {"content": "<dropped>", "type": "human"}
    assert ("data", "messages", "0", "0", "content") in seen


@pytest.mark.parametrize("result", [RuntimeError("leaks private"), 42])
def test_failing_hook_replaces_content(result: object) -> None:
    """A hook that raises or returns a non-str: the content becomes a marker, counted."""

    def hook(path: tuple[str, ...], value: str) -> str:
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[return-value]

    redactor = Redactor(hook=hook)
    payload = envelope_json(HEAD, {"p": "private"}, {}, 1 << 20, redactor)
    assert b"private" not in payload
    assert orjson.loads(payload)["redaction"].startswith(HOOK_FAILED)
    assert orjson.loads(payload)["event_type"] == "custom"
    assert redactor.hook_failures == 1


def test_secret_shape_cut_by_truncation_is_masked_first() -> None:
    """A credential in a string that shrink cuts is masked before the cut, never halved."""
    text = "x" * 5000 + f" sk-{HEX}{HEX}" + "y" * 5000
    data, cut = safe_json({"t": text}, 4096)
    assert cut is not None
    assert b"sk-0123" not in data


def hash_hook(path: tuple[str, ...], value: str) -> str:
    """A module-level hook: pickles by reference."""
    return value.upper()


def test_options_survive_pickling(tmp_path: Path) -> None:
    """A logger pickles to its configuration, redaction options and hook included."""
    from parquet_logger.capture.settings import LoggerSettings

    settings = LoggerSettings(
        log_dir=str(tmp_path),
        redact_keys=["badge_no"],
        redact_patterns=[re.compile(r"\d{4}")],
        redact=hash_hook,
    )
    state = {name: getattr(settings, name) for name in ("redact_keys", "redact_patterns", "redact")}
    copy = LoggerSettings(log_dir=str(tmp_path), **pickle.loads(pickle.dumps(state)))
    assert copy.redact is hash_hook
    assert copy.redactor.scrub({"BadgeNo": 1}) == {"BadgeNo": REDACTED}
    assert copy.redactor.text("pin 1234") == "pin ***"
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(LoggerSettings(log_dir=str(tmp_path), redact=lambda p, v: v).redact)
