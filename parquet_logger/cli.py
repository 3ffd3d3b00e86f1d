"""`parquet-logger`: the package's command. Each subcommand lives with the code it runs and
registers itself here (`register(subparsers)` setting `run`), so more can be added."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from parquet_logger_daemon import compact_command

from parquet_logger.lake import cli as lake_command
from parquet_logger.read.report import command as report_command

EXIT_USAGE = 2
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], object]
# One entry per subcommand module.
SUBCOMMANDS: tuple[Registrar, ...] = (
    report_command.register,
    lake_command.register,
    compact_command.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parquet-logger",
        description="Tools for parquet-logger log directories.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; exit code 2 for bad usage."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
