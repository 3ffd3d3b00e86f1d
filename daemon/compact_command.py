"""`compact --dir DIR [--partition P] [--target-bytes N] [--force]`: merge closed partitions'
small part files (see `compaction` for the steps and what readers see meanwhile).

`register(subparsers)` adds the command to a parser (`parquet-logger-daemon compact` and
`parquet-logger compact`); parsed arguments carry `run(args) -> exit code`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from parquet_logger.transport.statedir import StateDir
from parquet_logger.transport.writer_config import WRITER_DEFAULTS

from . import compaction, control
from .compaction_plan import partition_closed
from .partfile import PARTITION_PATTERN
from .writer_flags import positive_int

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
DELTA_LOG = "_delta_log"
EPILOG = f"""A partition is closed when its date is before today (UTC) or no writer runs for
the directory; without --partition every closed partition is compacted and open ones are
skipped. A run killed at any step loses and repeats no row: the next run (or writer start)
finishes or rolls back what it left. Local directories only.
exit codes:
  {EXIT_OK}  done (also: nothing to merge)
  {EXIT_FAILED}  failed (see stderr)
  {EXIT_USAGE}  bad usage
  {EXIT_REFUSED}  refused: a Delta table (use `parquet-logger lake optimize`), the partition
     is still written (--force to merge anyway), or another compaction runs"""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `compact` command to a parser's subparsers.

    Args:
        subparsers: what `ArgumentParser.add_subparsers()` returned.

    Returns:
        The `compact` parser; parsed arguments carry `run(args) -> exit code`.
    """
    parser = subparsers.add_parser(
        "compact",
        help="merge a closed partition's small part files into few large ones",
        description="Merge the small part files of closed partitions into files near "
        "--target-bytes, crash-safely.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", dest="log_dir", required=True, help="the log directory")
    parser.add_argument(
        "--partition",
        help="one partition, as its folder path (date=YYYY-MM-DD[/event_type=X]); "
        "default: every closed partition",
    )
    parser.add_argument(
        "--target-bytes",
        type=positive_int,
        default=WRITER_DEFAULTS.max_file_bytes,
        help=f"size of a merged file on disk (default {WRITER_DEFAULTS.max_file_bytes})",
    )
    parser.add_argument(
        "--force", action="store_true", help="also merge a partition a writer may still write"
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Compact as `args` say; returns the exit code."""
    state = StateDir.for_log_dir(args.log_dir)
    if not state.log_dir.is_dir():
        return _say(EXIT_USAGE, f"compact: {state.log_dir} is not a directory")
    if (state.log_dir / DELTA_LOG).exists():
        return _say(
            EXIT_REFUSED,
            f"compact: {state.log_dir} is a Delta table; merge its files with "
            "`parquet-logger lake optimize` (a plain-file compaction would corrupt it)",
        )
    if args.partition is not None and not PARTITION_PATTERN.match(args.partition.strip("/")):
        return _say(EXIT_USAGE, f"compact: {args.partition!r} is not a partition path")
    try:
        with compaction.locked(state):
            if compaction.recover(state):
                _say(EXIT_OK, "compact: finished the compaction a crash interrupted")
            return _compact(state, args)
    except compaction.CompactionBusyError as exc:
        return _say(EXIT_REFUSED, f"compact: {exc}")
    except (OSError, RuntimeError, ValueError) as exc:
        return _say(EXIT_FAILED, f"compact: failed: {type(exc).__name__}: {exc}")


def _compact(state: StateDir, args: argparse.Namespace) -> int:
    writer_running = control.writer_running(state)
    today = datetime.now(UTC).date()
    listed = compaction.partitions(state.log_dir)
    if args.partition is not None:
        wanted = args.partition.strip("/")
        if not args.force and not partition_closed(wanted, today, writer_running):
            return _say(
                EXIT_REFUSED,
                f"compact: {wanted} is still written (a writer runs and it is today's or "
                "has no date); --force to merge anyway",
            )
        listed = [p for p in listed if p == wanted]
        if not listed:
            return _say(EXIT_OK, f"compact: {wanted} holds no part files")
    for partition in listed:
        label = partition or "(flat)"
        if not args.force and not partition_closed(partition, today, writer_running):
            _say(EXIT_OK, f"compact: {label}: skipped, a writer still writes it")
            continue
        result = compaction.compact_partition(state, partition, args.target_bytes)
        sys.stdout.write(
            f"{label}: {result.files_before} files -> {result.files_after} "
            f"({result.rows} rows merged)\n"
        )
    return EXIT_OK


def _say(code: int, message: str) -> int:
    sys.stderr.write(message + "\n")
    return code
