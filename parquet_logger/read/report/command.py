"""`parquet-logger report SOURCE -o report.html`: the report subcommand."""

from __future__ import annotations

import argparse
import sys

from parquet_logger.read.report import write_report

EXIT_OK = 0
EXIT_FAILED = 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` subcommand to the `parquet-logger` parser."""
    parser = commands.add_parser(
        "report",
        help="write a one-file HTML report of a log directory or S3 prefix",
        description="Write a self-contained HTML report (totals, models, cost, latency, "
        "errors, slowest traces) of a log directory or an s3:// prefix. The file works "
        "offline: no script, no CDN.",
        epilog="exit codes: 0 written, 1 failed (the reason on stderr), 2 bad usage",
    )
    parser.add_argument("source", help="a log directory or s3://bucket/prefix")
    parser.add_argument("-o", "--output", default="report.html", help="default: report.html")
    parser.add_argument("--since", help="only events at or after this UTC time (ISO 8601)")
    parser.add_argument("--until", help="only events before this UTC time (ISO 8601)")
    parser.add_argument(
        "--custom-id", action="append", help="only these custom ids (repeat for several)"
    )
    parser.add_argument("--prices", help="your own price table (JSON), on top of the shipped one")
    parser.add_argument(
        "--batch-api", action="store_true", help="price calls at the batch API's discount"
    )
    parser.add_argument("--slow-traces", type=int, default=5, help="traces to draw (default 5)")
    parser.add_argument("--endpoint-url", help="an S3-compatible endpoint for s3:// sources")
    parser.add_argument("--region", help="the S3 region")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar while scanning")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; errors are one line on stderr and exit code 1."""
    from parquet_logger.read.source import open_source

    try:
        source = open_source(args.source, endpoint_url=args.endpoint_url, region=args.region)
        path = write_report(
            source,
            args.output,
            since=args.since,
            until=args.until,
            custom_id=args.custom_id,
            prices=args.prices,
            batch_api=args.batch_api,
            slow_traces=args.slow_traces,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"parquet-logger report: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)", file=sys.stderr)  # noqa: T201
    return EXIT_OK
