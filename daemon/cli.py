"""`parquet-logger-daemon`: run, inspect, flush and stop a log directory's writer; compact
its closed partitions."""

from __future__ import annotations

import argparse
import logging
import sys

import orjson

from parquet_logger.transport.protocol import ControlExit, RunExit
from parquet_logger.transport.statedir import StateDir

from . import compact_command, control
from .service import WriterService
from .writer_flags import add_writer_flags, positive_float, settings_from_args

EXIT_CODES_HELP = f"""exit codes of run:
  {RunExit.OK}  drained and stopped (SIGTERM/SIGINT, or no producer left with --exit-when-idle)
  {RunExit.ERROR}  error (see the log on stderr)
  {RunExit.USAGE}  bad usage
  {RunExit.ALREADY_RUNNING}  another writer is already running for this directory
  {RunExit.FORCED}  forced exit by a second SIGTERM/SIGINT (nothing committed is lost;
     the next writer writes what the ring still holds)
  {RunExit.LOG_DIR_GONE}  the log directory was deleted: the ring is removed (events not yet
     written when it went are counted in the log as lost: there is nowhere to write them)
signals: SIGTERM/SIGINT drain and exit, SIGHUP writes out everything buffered now."""

CONTROL_EXIT_HELP = f"""exit codes:
  {ControlExit.DONE}  done (status: the writer is running)
  {ControlExit.FAILED}  failed or timed out
  {ControlExit.USAGE}  bad usage
  {ControlExit.NO_WRITER}  no writer is running for this directory"""


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
                "--timeout", type=positive_float, default=30.0, help="seconds to wait (default 30)"
            )
    compact_command.register(sub)
    return parser


def _add_run_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    p.add_argument("--dir", dest="log_dir", help="the log directory", default=default(None))
    add_writer_flags(p)
    p.add_argument(
        "--log-level",
        default=default("INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "compact":
        result: int = args.run(args)
        return result
    if not args.log_dir:
        parser.error("--dir is required")
    if args.command in ("status", "stop", "flush"):
        return _control(args)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s parquet-logger-daemon[%(process)d] %(message)s",
    )
    try:
        config = settings_from_args(args)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    try:
        return WriterService(args.log_dir, config).run()
    except Exception:
        logging.getLogger("parquet_logger_daemon").exception("writer failed")
        return RunExit.ERROR


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
