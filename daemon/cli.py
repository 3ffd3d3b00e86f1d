"""`parquet-logger-daemon`: run, inspect, flush and stop a log directory's writer."""

from __future__ import annotations

import argparse
import logging
import sys

import orjson

from parquet_logger.s3config import S3Config
from parquet_logger.transport.protocol import ControlExit, RunExit
from parquet_logger.transport.statedir import StateDir

from . import control
from .service import WriterConfig, WriterService

EXIT_CODES_HELP = f"""exit codes of run:
  {RunExit.OK}  drained and stopped (SIGTERM/SIGINT, or no producer left with --exit-when-idle)
  {RunExit.ERROR}  error (see the log on stderr)
  {RunExit.USAGE}  bad usage
  {RunExit.ALREADY_RUNNING}  another writer is already running for this directory
  {RunExit.FORCED}  forced exit by a second SIGTERM/SIGINT (nothing committed is lost;
     the next writer writes what the ring still holds)
signals: SIGTERM/SIGINT drain and exit, SIGHUP writes out everything buffered now."""

CONTROL_EXIT_HELP = f"""exit codes:
  {ControlExit.DONE}  done (status: the writer is running)
  {ControlExit.FAILED}  failed or timed out
  {ControlExit.USAGE}  bad usage
  {ControlExit.NO_WRITER}  no writer is running for this directory"""


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
    for name, summary in (
        ("status", "show whether a writer runs, its counters, the ring and the producers"),
        ("stop", "make the writer drain, write everything and exit"),
        ("flush", "make the writer write out everything logged so far, and wait for it"),
    ):
        sub_parser = sub.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=CONTROL_EXIT_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub_parser.add_argument(
            "--dir", dest="log_dir", default=argparse.SUPPRESS, help="the log directory"
        )
        if name == "status":
            sub_parser.add_argument("--json", action="store_true", help="print JSON")
        else:
            sub_parser.add_argument(
                "--timeout", type=_positive_float, default=30.0, help="seconds to wait (default 30)"
            )
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
        default=default(128 * 1024 * 1024),
        help="size of the ring when the writer creates it (default 128 MiB)",
    )
    p.add_argument(
        "--buffer-size",
        type=_positive_int,
        default=default(None),
        help="also write once this many events are buffered",
    )
    s3 = p.add_argument_group("S3 upload (every finished file, from a local spool)")
    s3.add_argument("--s3-bucket", default=default(None), help="upload to this bucket")
    s3.add_argument("--s3-prefix", default=default("langchain-logs/"), help="key prefix")
    s3.add_argument(
        "--s3-endpoint-url", default=default(None), help="an S3-compatible endpoint (default: AWS)"
    )
    s3.add_argument("--s3-region", default=default(None), help="the region")
    s3.add_argument(
        "--s3-on-failure",
        choices=["error", "continue"],
        default=default("error"),
        help="what producers' flush() does after a definitive upload failure",
    )
    s3.add_argument(
        "--s3-retry-attempts",
        type=_positive_int,
        default=default(3),
        help="attempts per upload, the first included (default 3)",
    )
    s3.add_argument("--s3-connect-timeout", type=_positive_float, default=default(10.0))
    s3.add_argument("--s3-read-timeout", type=_positive_float, default=default(30.0))
    s3.add_argument(
        "--s3-deadline-s",
        type=_positive_float,
        default=default(300.0),
        help="the longest one upload may take, retries included",
    )
    s3.add_argument(
        "--s3-delete-local",
        action="store_true",
        default=default(False),
        help="remove local files once their upload is confirmed",
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
    if args.command in ("status", "stop", "flush"):
        return _control(args)
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
        s3=_s3_config(parser, args),
    )
    try:
        return WriterService(args.log_dir, config).run()
    except Exception:
        logging.getLogger("parquet_logger_daemon").exception("writer failed")
        return RunExit.ERROR


def _s3_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> S3Config | None:
    if not args.s3_bucket:
        return None
    try:
        return S3Config(
            bucket=args.s3_bucket,
            prefix=args.s3_prefix,
            on_failure=args.s3_on_failure,
            retry_attempts=args.s3_retry_attempts,
            connect_timeout=args.s3_connect_timeout,
            read_timeout=args.s3_read_timeout,
            deadline_s=args.s3_deadline_s,
            endpoint_url=args.s3_endpoint_url,
            region=args.s3_region,
            keep_local=not args.s3_delete_local,
        )
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))


def _control(args: argparse.Namespace) -> int:
    state = StateDir.for_log_dir(args.log_dir)
    if args.command == "status":
        status = control.read_status(state)
        if args.json:
            sys.stdout.write(orjson.dumps(status, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            sys.stdout.write(control.format_status(status) + "\n")
        return ControlExit.DONE if status["running"] else ControlExit.NO_WRITER
    action = control.stop if args.command == "stop" else control.flush
    code = action(state, args.timeout)
    messages = {
        ControlExit.DONE: f"{args.command}: done",
        ControlExit.FAILED: f"{args.command}: the writer did not finish within {args.timeout} s",
        ControlExit.NO_WRITER: f"{args.command}: no writer is running for {state.log_dir}",
    }
    sys.stderr.write(messages[code] + "\n")
    return code
