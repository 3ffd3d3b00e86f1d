"""`parquet-logger-daemon`: run a log directory's writer in the foreground.

Exit codes: 0 drained and stopped; 1 error; 2 bad usage; 3 another writer already holds the
directory; 4 forced exit by a second stop signal (uncommitted records stay in the ring and
the next writer writes them).
"""

from __future__ import annotations

import argparse
import logging
import sys

from .service import EXIT_ERROR, WriterConfig, WriterService

EXIT_CODES_HELP = """exit codes:
  0  drained and stopped (SIGTERM/SIGINT, or no producer left with --exit-when-idle)
  1  error (see the log on stderr)
  2  bad usage
  3  another writer is already running for this directory
  4  forced exit by a second SIGTERM/SIGINT (nothing committed is lost; the next writer
     writes what the ring still holds)
signals: SIGTERM/SIGINT drain and exit, SIGHUP writes out everything buffered now."""


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parquet-logger-daemon",
        description="The writer of a parquet-logger log directory: drains the shared-memory "
        "ring that ParquetLogger instances write into and writes partitioned Parquet files.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser(
        "run",
        help="run the writer in the foreground (the default command)",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_run_options(parser, defaults=True)
    # On the subcommand, absent options must not overwrite ones given before it.
    _add_run_options(run, defaults=False)
    return parser


def _add_run_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    p.add_argument("--dir", dest="log_dir", help="the log directory", default=default(None))
    p.add_argument(
        "--flush-interval-s",
        type=_positive_float,
        default=default(1.0),
        help="write buffered events at least this often (default 1.0)",
    )
    p.add_argument(
        "--max-file-bytes",
        type=_positive_int,
        default=default(128 * 1024 * 1024),
        help="write a file once this many record bytes are buffered",
    )
    p.add_argument(
        "--ring-size-bytes",
        type=_positive_int,
        default=default(64 * 1024 * 1024),
        help="size of the ring when the writer creates it (default 64 MiB)",
    )
    p.add_argument(
        "--buffer-size",
        type=_positive_int,
        default=default(None),
        help="also write once this many events are buffered",
    )
    p.add_argument(
        "--exit-when-idle",
        action="store_true",
        default=default(False),
        help="exit once no producer process is attached (used by ParquetLogger)",
    )
    p.add_argument(
        "--log-level",
        default=default("INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.log_dir:
        parser.error("--dir is required")
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s parquet-logger-daemon[%(process)d] %(message)s",
    )
    config = WriterConfig(
        flush_interval_s=args.flush_interval_s,
        max_file_bytes=args.max_file_bytes,
        ring_size_bytes=args.ring_size_bytes,
        buffer_size=args.buffer_size,
        exit_when_idle=args.exit_when_idle,
    )
    try:
        return WriterService(args.log_dir, config).run()
    except Exception:
        logging.getLogger("parquet_logger_daemon").exception("writer failed")
        return EXIT_ERROR
