"""The writer's settings flags, generated from WriterSettings and S3Config.

Names, types and defaults come from the two dataclasses; only the help text lives here. A flag
is `--<field>` (`--s3-<field>` for S3Config), with `--s3-delete-local` for `keep_local=False`.
`--config-json` takes the whole WriterSettings as one document (how ParquetLogger starts a
writer); flags given next to it override its fields.
"""

from __future__ import annotations

import argparse
import math
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields, replace
from typing import Any

from parquet_logger.s3config import ON_FAILURE, S3Config
from parquet_logger.transport.writer_config import WRITER_DEFAULTS, WriterSettings
from parquet_logger.transport.writer_launch import CONFIG_JSON_FLAG

WRITER_HELP = {
    "flush_interval_s": "publish buffered events at least this often (flush() publishes at once)",
    "max_file_bytes": "write a file once this many record bytes are buffered",
    "ring_size_bytes": "size of the ring when the writer creates it",
    "buffer_size": "also write once this many events are buffered",
    "exit_when_idle": "exit once no producer process is attached (used by ParquetLogger)",
}
# Settings without a flag: the S3 part has flags of its own, the upload drain has none.
NOT_FLAGS = ("s3", "upload_drain_s")
S3_HELP = {
    "bucket": "upload to this bucket (the other --s3-* flags need it)",
    "prefix": "key prefix",
    "on_failure": "what producers' flush() does after a definitive upload failure",
    "retry_attempts": "attempts per upload, the first included",
    "connect_timeout": "seconds to connect",
    "read_timeout": "seconds to wait for a response",
    "deadline_s": "the longest one upload may take, retries included",
    "endpoint_url": "an S3-compatible endpoint (default: AWS)",
    "region": "the region (default: boto3's own chain)",
    "keep_local": "remove local files once their upload is confirmed",
}
S3_CHOICES = {"on_failure": ON_FAILURE}
S3_FLAG_PREFIX = "s3_"


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer > 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_writer_flags(parser: argparse.ArgumentParser) -> None:
    """Add `--config-json` and one flag per setting. Absent flags leave no attribute, so
    that options given before a subcommand are not overwritten by its defaults."""
    parser.add_argument(
        CONFIG_JSON_FLAG,
        default=argparse.SUPPRESS,
        metavar="JSON",
        help="every writer setting as one JSON document (flags given too override it)",
    )
    hints = typing.get_type_hints(WriterSettings)
    for field in fields(WriterSettings):
        if field.name not in NOT_FLAGS:
            _add_flag(parser, field.name, hints[field.name], field.default, WRITER_HELP)
    group = parser.add_argument_group("S3 upload (every finished file, from a local spool)")
    s3_hints = typing.get_type_hints(S3Config)
    for field in fields(S3Config):
        if field.name == "keep_local":
            group.add_argument(
                "--s3-delete-local",
                dest=S3_FLAG_PREFIX + field.name,
                action="store_false",
                default=argparse.SUPPRESS,
                help=S3_HELP[field.name],
            )
            continue
        _add_flag(
            group,
            field.name,
            s3_hints[field.name],
            field.default,
            S3_HELP,
            prefix=S3_FLAG_PREFIX,
            choices=S3_CHOICES.get(field.name),
        )


def _add_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    name: str,
    hint: Any,
    default: Any,
    help_by_name: dict[str, str],
    prefix: str = "",
    choices: tuple[str, ...] | None = None,
) -> None:
    flag = "--" + (prefix + name).replace("_", "-")
    dest = prefix + name
    help_text = help_by_name[name]
    if hint is bool:
        parser.add_argument(
            flag, dest=dest, action="store_true", default=argparse.SUPPRESS, help=help_text
        )
        return
    kinds = set(typing.get_args(hint)) - {type(None)} or {hint}
    converters: dict[type, Callable[[str], Any]] = {
        float: positive_float,
        int: positive_int,
        str: str,
    }
    convert = converters[kinds.pop()]
    if default is not None and default is not MISSING:
        help_text += f" (default: {default})"
    parser.add_argument(
        flag,
        dest=dest,
        type=convert,
        choices=choices,
        default=argparse.SUPPRESS,
        help=help_text,
    )


def settings_from_args(args: argparse.Namespace) -> WriterSettings:
    """The WriterSettings that `--config-json` (or the defaults) and the flags describe.

    Without a bucket (from a flag or the JSON document; an empty --s3-bucket is none) the
    other --s3-* flags are ignored.

    Raises:
        TypeError, ValueError: a setting is invalid (the message names it).
    """
    config_json = getattr(args, CONFIG_JSON_FLAG[2:].replace("-", "_"), None)
    base = WriterSettings.from_json(config_json) if config_json else WRITER_DEFAULTS
    given = {
        f.name: getattr(args, f.name)
        for f in fields(WriterSettings)
        if f.name not in NOT_FLAGS and hasattr(args, f.name)
    }
    s3_given = {
        f.name: getattr(args, S3_FLAG_PREFIX + f.name)
        for f in fields(S3Config)
        if hasattr(args, S3_FLAG_PREFIX + f.name)
    }
    if s3_given.get("bucket") == "":  # `--s3-bucket "$UNSET"` means no upload, as it always did
        del s3_given["bucket"]
    s3 = base.s3
    if s3 is not None:
        s3 = replace(s3, **s3_given)
    elif "bucket" in s3_given:
        s3 = S3Config(**s3_given)
    return replace(base, **given, s3=s3)
