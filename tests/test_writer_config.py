"""One writer configuration: WriterSettings holds every name and default; the logger, the
spawner's JSON document and the daemon's flags all build the same object."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path

import pytest
from parquet_logger_daemon.cli import build_parser, main
from parquet_logger_daemon.writer_flags import NOT_FLAGS, settings_from_args

from parquet_logger import ParquetLogger, S3Config
from parquet_logger.capture.settings import LoggerSettings
from parquet_logger.s3config import s3_default
from parquet_logger.transport.statedir import StateDir
from parquet_logger.transport.writer_config import WRITER_DEFAULTS, WriterSettings
from parquet_logger.transport.writer_launch import writer_argv
from tests.scenarios.producers import log_llm_start
from tests.support import read_rows, wait_for

S3 = S3Config(
    bucket="logs",
    prefix="team/a",
    on_failure="continue",
    retry_attempts=5,
    connect_timeout=2.5,
    read_timeout=7.0,
    deadline_s=40.0,
    endpoint_url="http://127.0.0.1:9000",
    region="eu-west-1",
    keep_local=False,
)
CUSTOM = WriterSettings(
    flush_interval_s=0.25,
    max_file_bytes=4096,
    ring_size_bytes=2 * 1024 * 1024,
    buffer_size=7,
    exit_when_idle=True,
    upload_drain_s=12.0,
    s3=S3,
)


def parse_run(*argv: str) -> WriterSettings:
    return settings_from_args(build_parser().parse_args(["run", "--dir", "/tmp/x", *argv]))


@pytest.mark.parametrize("settings", [WRITER_DEFAULTS, CUSTOM])
def test_json_document_round_trips(settings: WriterSettings) -> None:
    """to_json / from_json give back an equal object, S3 part included."""
    assert WriterSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    ("document", "error", "names"),
    [
        ('{"flush_interval": 1}', ValueError, "flush_interval"),
        ('{"max_file_bytes": "big"}', TypeError, "max_file_bytes"),
        ('{"ring_size_bytes": 1000}', ValueError, "ring_size_bytes"),
        ('{"s3": {"bucket": ""}}', ValueError, "bucket"),
        ("[1, 2]", ValueError, "JSON object"),
        ("{not json", ValueError, "JSON"),
    ],
)
def test_bad_json_documents_are_named(document: str, error: type, names: str) -> None:
    """A bad document fails with the validation's exception type, naming the setting."""
    with pytest.raises(error, match=names):
        WriterSettings.from_json(document)


def test_no_flags_give_the_defaults() -> None:
    """`run --dir D` alone builds exactly WRITER_DEFAULTS."""
    assert parse_run() == WRITER_DEFAULTS


def test_flags_build_the_same_dataclass() -> None:
    """Every flag, by its unchanged name, sets its field of WriterSettings or S3Config."""
    assert parse_run(
        *("--flush-interval-s", "0.25", "--max-file-bytes", "4096"),
        *("--ring-size-bytes", str(2 * 1024 * 1024), "--buffer-size", "7", "--exit-when-idle"),
        *("--s3-bucket", "logs", "--s3-prefix", "team/a", "--s3-on-failure", "continue"),
        *("--s3-retry-attempts", "5", "--s3-connect-timeout", "2.5", "--s3-read-timeout", "7"),
        *("--s3-deadline-s", "40", "--s3-endpoint-url", "http://127.0.0.1:9000"),
        *("--s3-region", "eu-west-1", "--s3-delete-local"),
    ) == replace(CUSTOM, upload_drain_s=WRITER_DEFAULTS.upload_drain_s)


def test_every_setting_has_its_flag() -> None:
    """The flags are generated: each field of both dataclasses has one (upload_drain_s and
    the nested s3 excepted), so a new setting cannot be forgotten on the command line."""
    options = set(build_parser()._option_string_actions)
    for field in fields(WriterSettings):
        if field.name not in NOT_FLAGS:
            assert "--" + field.name.replace("_", "-") in options
    for field in fields(S3Config):
        flag = "--s3-delete-local" if field.name == "keep_local" else "--s3-" + field.name
        assert flag.replace("_", "-") in options


def test_flags_override_the_json_document() -> None:
    """--config-json is the base; a flag given as well wins for its field."""
    settings = parse_run(
        "--config-json", CUSTOM.to_json(), "--flush-interval-s", "3", "--s3-region", "us-east-2"
    )
    assert settings == replace(CUSTOM, flush_interval_s=3.0, s3=replace(S3, region="us-east-2"))


def test_spawner_argv_is_one_json_document_the_writer_reads_back(tmp_path: Path) -> None:
    """What a ParquetLogger starts the writer with parses to its settings (and idle exit)."""
    argv = writer_argv(StateDir.for_log_dir(tmp_path), CUSTOM)
    run = argv[argv.index("run") :]
    assert run[:3] == ["run", "--dir", str(tmp_path)]
    assert run[3] == "--config-json"
    assert json.loads(run[4])["s3"]["bucket"] == "logs"
    assert settings_from_args(build_parser().parse_args(run)) == replace(
        CUSTOM, exit_when_idle=True
    )


def test_help_shows_the_dataclass_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    """`run --help` prints the defaults WriterSettings and S3Config hold."""
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {WRITER_DEFAULTS.flush_interval_s})" in text
    assert f"(default: {WRITER_DEFAULTS.max_file_bytes})" in text
    assert f"key prefix (default: {s3_default('prefix')})" in text
    assert f"(default: {s3_default('deadline_s')})" in text


def test_bad_flag_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A value the dataclass refuses exits 2 naming the setting, before any writer starts."""
    with pytest.raises(SystemExit) as exited:
        main(["run", "--dir", "/nonexistent/never", "--ring-size-bytes", "1000"])
    assert exited.value.code == 2
    assert "ring_size_bytes" in capsys.readouterr().err


def test_logger_defaults_come_from_writer_settings() -> None:
    """ParquetLogger's and LoggerSettings' writer defaults are WriterSettings' own, and every
    other parameter of ParquetLogger that is a LoggerSettings field has its default."""
    signature = inspect.signature(ParquetLogger.__init__).parameters
    logger_settings = {f.name: f.default for f in fields(LoggerSettings) if f.init}
    for name in ("flush_interval_s", "max_file_bytes", "ring_size_bytes", "buffer_size"):
        assert signature[name].default == getattr(WRITER_DEFAULTS, name)
        assert logger_settings[name] == getattr(WRITER_DEFAULTS, name)
    shared = set(signature) & set(logger_settings)
    assert len(shared) == len(logger_settings) - 1  # all but `s3` (given as s3_* or s3_config)
    for name in shared:
        assert signature[name].default == logger_settings[name], name
    for name in ("prefix", "on_failure", "retry_attempts"):
        assert signature[f"s3_{name}"].default == s3_default(name)
    assert LoggerSettings(buffer_size=3, flush_interval_s=2.0).writer == WriterSettings(
        buffer_size=3, flush_interval_s=2.0
    )


def test_started_writer_gets_the_loggers_settings(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A writer a logger starts honours its buffer_size: with an hour-long interval, three
    events make a file without any flush()."""
    logger = make_logger(buffer_size=3, flush_interval_s=3600.0)
    for n in range(3):
        log_llm_start(logger, f"e{n}")
    wait_for(lambda: any(log_dir.rglob("*.parquet")), 30, "a file written by buffer_size")
    assert sorted(read_rows(log_dir)["custom_id"]) == ["e0", "e1", "e2"]


def test_empty_bucket_flag_means_no_upload() -> None:
    """`--s3-bucket "$UNSET"` keeps meaning no S3 stage; the other --s3-* flags are ignored."""
    assert parse_run("--s3-bucket", "", "--s3-region", "eu-west-1") == WRITER_DEFAULTS
