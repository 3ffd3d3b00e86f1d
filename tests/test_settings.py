"""Constructor validation: every bad parameter fails at once, naming itself."""

from __future__ import annotations

import pytest

from parquet_logger import EventType, S3Config
from parquet_logger.capture.settings import LoggerSettings, parse_partition_on


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"buffer_size": 0}, ValueError, "buffer_size"),
        ({"buffer_size": -5}, ValueError, "buffer_size"),
        ({"buffer_size": 2.5}, TypeError, "buffer_size"),
        ({"partition_on": "month"}, ValueError, "partition_on"),
        ({"partition_on": ["date", "date"]}, ValueError, "partition_on"),
        ({"partition_on": 3}, TypeError, "partition_on"),
        ({"event_types": ["llm_start", "llm_finished"]}, ValueError, "llm_finished"),
        ({"event_types": "llm_start"}, TypeError, "event_types"),
        ({"event_types": []}, ValueError, "event_types"),
        ({"logger_metadata": {"when": {1, 2}}}, TypeError, "logger_metadata"),
        ({"logger_metadata": ["not", "a", "dict"]}, TypeError, "logger_metadata"),
        ({"flush_interval_s": 0}, ValueError, "flush_interval_s"),
        ({"flush_interval_s": float("nan")}, ValueError, "flush_interval_s"),
        ({"on_queue_full": "wait"}, ValueError, "on_queue_full"),
        ({"queue_full_timeout_s": -1}, ValueError, "queue_full_timeout_s"),
        ({"ring_size_bytes": 1000}, ValueError, "ring_size_bytes"),
        ({"max_event_bytes": 100}, ValueError, "max_event_bytes"),
        ({"max_event_bytes": 64 * 1024 * 1024}, ValueError, "max_event_bytes"),
        ({"max_tracked_runs": 0}, ValueError, "max_tracked_runs"),
        ({"log_dir": 42}, TypeError, "log_dir"),
        # The same kind of mistake, the same exception: a wrong type is always a TypeError.
        ({"queue_full_timeout_s": "5"}, TypeError, "queue_full_timeout_s"),
        ({"flush_interval_s": "1"}, TypeError, "flush_interval_s"),
        ({"on_queue_full": 1}, TypeError, "on_queue_full"),
        ({"start_writer": "yes"}, TypeError, "start_writer"),
        ({"max_file_bytes": 1.5}, TypeError, "max_file_bytes"),
        ({"redact_keys": "badge_no"}, TypeError, "redact_keys"),
        ({"redact_keys": [1]}, TypeError, "redact_keys"),
        ({"redact_keys": [" "]}, ValueError, "redact_keys"),
        ({"redact_patterns": r"\d+"}, TypeError, "redact_patterns"),
        ({"redact_patterns": [b"x"]}, TypeError, "redact_patterns"),
        ({"redact_patterns": ["("]}, ValueError, "redact_patterns"),
        ({"redact_patterns": ["x*"]}, ValueError, "redact_patterns"),
        ({"redact": "hash"}, TypeError, "redact"),
    ],
)
def test_bad_parameters_are_named(kwargs, error, names):
    """The error type and message name the parameter (and the accepted values)."""
    with pytest.raises(error, match=names):
        LoggerSettings(**kwargs)


def test_unknown_event_type_lists_the_accepted_ones():
    """The message for an unknown event type lists every accepted name."""
    with pytest.raises(ValueError, match="chat_model_start") as info:
        LoggerSettings(event_types=["nope"])
    assert all(e.value in str(info.value) for e in EventType)


@pytest.mark.parametrize(
    ("value", "keys"),
    [
        ("date", ("date",)),
        ("event_type", ("event_type",)),
        (["event_type", "date"], ("date", "event_type")),
        ("date/event_type", ("date", "event_type")),
        (None, ()),
    ],
)
def test_partition_on_forms(value, keys):
    """Every accepted spelling of partition_on maps to hive keys in a fixed order."""
    assert parse_partition_on(value) == keys


def test_event_types_accept_strings_and_members():
    """Strings and EventType members mix freely."""
    settings = LoggerSettings(event_types=["llm_end", EventType.TOOL_START])
    assert settings.enabled == {EventType.LLM_END, EventType.TOOL_START}


def test_logger_metadata_secrets_redacted_at_construction():
    """logger_metadata is stored as JSON with credentials masked."""
    settings = LoggerSettings(logger_metadata={"team": "a", "api_key": "sk-1"})
    assert settings.logger_metadata_json == '{"team":"a","api_key":"***"}'


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"retry_attempts": 2.5}, TypeError),
        ({"retry_attempts": 0}, ValueError),
        ({"connect_timeout": "10"}, TypeError),
        ({"read_timeout": -1}, ValueError),
        ({"on_failure": "ignore"}, ValueError),
        ({"on_failure": None}, TypeError),
        ({"keep_local": "no"}, TypeError),
    ],
)
def test_s3_config_mistakes_raise_by_kind(kwargs, error):
    """S3Config follows the same rule as the logger: wrong type TypeError, wrong value
    ValueError, and the message names the field."""
    with pytest.raises(error, match=next(iter(kwargs))):
        S3Config("bucket", **kwargs)
