"""`parquet-logger lake commit|optimize|vacuum SOURCE`: keep one Delta table over the part
files of a log directory or S3 prefix.

`register(subparsers)` adds the `lake` command to the `parquet-logger` parser: after
`parse_args`, call `args.run(args)` for the exit code. `main(argv)` runs it standalone
(`python -m parquet_logger.lake`). deltalake is imported only when a command runs, so the
parser works without the `lake` extra.

Exit codes: 0 done; 1 failed (nothing was committed by this run); 2 bad usage; 3 another
committer holds the table or committed meanwhile (run again later).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

# Neither imports deltalake (the commands below import it when they run).
from parquet_logger.errors import CommitterBusyError, LakeError
from parquet_logger.lake.source import LakeSource

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
PROG = "parquet-logger lake"
EPILOG = (
    "exit codes: 0 done, 1 failed (this run committed nothing), 2 bad usage, "
    "3 another committer holds the table (run again later)"
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `lake` command (commit, optimize, vacuum) to a parser's subparsers.

    Args:
        subparsers: what `ArgumentParser.add_subparsers()` returned.

    Returns:
        The `lake` parser; parsed arguments carry `run(args) -> exit code`.
    """
    lake = subparsers.add_parser(
        "lake",
        help="keep one Delta Lake table over the part files (commit, optimize, vacuum)",
        description="One Delta Lake table over the part files the writers published, "
        "registered where they are (never rewritten). Run ONE committer per table.",
        epilog=EPILOG,
    )
    _add_commands(lake)
    return lake


def build_parser() -> argparse.ArgumentParser:
    """The standalone parser (`python -m parquet_logger.lake`)."""
    parser = argparse.ArgumentParser(prog=PROG, epilog=EPILOG)
    _add_commands(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a lake command; returns the exit code (see the module docstring)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    return int(args.run(args))


def _add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="lake_command", required=True, metavar="COMMAND")
    commit = commands.add_parser(
        "commit",
        help="register the part files the table does not have yet (one transaction)",
        description="Register every part file under SOURCE that the table does not know, "
        "in one Delta commit (creating the table on the first run). Idempotent; a run "
        "killed half-way registered all or nothing: run it again.",
        epilog=EPILOG,
    )
    optimize = commands.add_parser(
        "optimize",
        help="merge small files with Delta's optimize.compact()",
        description="Merge small files with Delta's optimize. Until `vacuum` deletes the "
        "merged-away files, plain Parquet readers of the directory (not the table) count "
        "their rows twice. Never compact a table's files any other way.",
        epilog=EPILOG,
    )
    optimize.add_argument(
        "--target-size-mb", type=int, default=None, help="size merged files aim at (Delta's)"
    )
    vacuum = commands.add_parser(
        "vacuum",
        help="delete files the table removed longer ago than the retention",
        description="Delete the files optimize merged away, once older than the retention "
        "(Delta's lite vacuum: files never committed are left alone).",
        epilog=EPILOG,
    )
    vacuum.add_argument(
        "--retention-hours", type=int, default=168, help="keep removed files this long (168)"
    )
    vacuum.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    for command in (commit, optimize, vacuum):
        command.add_argument("source", metavar="SOURCE", help="a log directory or s3://b/prefix")
        command.add_argument("--s3-endpoint-url", help="an S3-compatible endpoint (not AWS)")
        command.add_argument("--s3-region", help="the S3 region")
        command.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        source = LakeSource(args.source, args.s3_endpoint_url, args.s3_region)
    except (ValueError, TypeError) as exc:
        _say(str(exc))
        return EXIT_USAGE
    try:
        return _dispatch(args, source)
    except ImportError as exc:
        _say(f"needs deltalake: pip install 'parquet-logger[lake]' ({exc})")
        return EXIT_FAILURE
    except CommitterBusyError as exc:
        _say(str(exc))
        return EXIT_BUSY
    except LakeError as exc:
        _say(str(exc))
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace, source: LakeSource) -> int:
    from parquet_logger.lake.committer import commit
    from parquet_logger.lake.maintenance import optimize, vacuum

    where = source.describe()
    if args.lake_command == "commit":
        done = commit(source)
        _tell(
            f"registered {done.added_files} file(s), {done.added_rows} row(s) in {where} "
            f"(version {done.version}); {done.known_files} were already registered"
        )
    elif args.lake_command == "optimize":
        size = args.target_size_mb * 1024 * 1024 if args.target_size_mb else None
        merged = optimize(source, size)
        _tell(
            f"optimize merged {merged.files_removed} file(s) into {merged.files_added} in "
            f"{where}; plain Parquet readers count those rows twice until `lake vacuum`"
        )
    else:
        removed = vacuum(source, args.retention_hours, args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        _tell(f"vacuum {verb} {len(removed)} file(s) in {where}")
    return EXIT_OK


def _tell(line: str) -> None:
    sys.stdout.write(line + "\n")


def _say(line: str) -> None:
    sys.stderr.write(f"{PROG}: {line}\n")


if __name__ == "__main__":
    sys.exit(main())
