"""`parquet-logger-retrieve`: fetch pending OpenAI background responses into a log directory,
for cron-style jobs. The OpenAI client comes from the environment (`OPENAI_API_KEY`,
`OPENAI_BASE_URL`, ...).

Exit codes: 0 every response completed; 1 some did not (failed, cancelled, incomplete, error,
timeout); 2 bad usage; 3 stopped by an authentication/permission/quota error; 4 stopped by
SIGTERM/SIGINT (what finished is checkpointed: run again to resume).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from parquet_logger.errors import RetrievalAbortedError
from parquet_logger.retrieval.api import run_retrieval
from parquet_logger.retrieval.options import RetrievalOptions

EXIT_OK = 0
EXIT_NOT_COMPLETED = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3
EXIT_INTERRUPTED = 4

_D = RetrievalOptions()  # the defaults, shared with retrieve_background_responses


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="parquet-logger-retrieve",
        description="Fetch OpenAI background responses until they finish and log each outcome "
        "once (background_retrieval_* events) into a parquet-logger directory.",
        epilog="exit codes: 0 all completed, 1 some did not complete, 2 bad usage, "
        "3 stopped by an auth/permission/quota error, 4 interrupted (rerun to resume)",
    )
    p.add_argument("--dir", required=True, help="the log directory to write events into")
    p.add_argument(
        "--input",
        help="a .parquet, .csv or .jsonl file with a response-id column; without it, the "
        "pending responses of --discover-from (default --dir) are found in the logs",
    )
    p.add_argument("--discover-from", help="a log directory or s3://bucket/prefix to discover")
    p.add_argument("--checkpoint", help="checkpoint journal (JSON lines), for resuming")
    p.add_argument("--output", help="write the results table here (.parquet or .csv)")
    p.add_argument("--response-id-col", default=_D.response_id_col)
    p.add_argument("--custom-id-col", default=_D.custom_id_col)
    p.add_argument(
        "--batch-size",
        type=int,
        default=_D.batch_size,
        help=f"requests in flight ({_D.batch_size})",
    )
    p.add_argument(
        "--max-retries",
        type=int,
        default=_D.max_retries,
        help=f"retries per request ({_D.max_retries})",
    )
    p.add_argument(
        "--timeout", type=float, default=_D.timeout, help=f"seconds per request ({_D.timeout:g})"
    )
    p.add_argument(
        "--poll-interval-s",
        type=float,
        default=_D.poll_interval_s,
        help=f"seconds between polls ({_D.poll_interval_s:g})",
    )
    p.add_argument(
        "--max-wait-s",
        type=float,
        default=_D.max_wait_s,
        help=f"longest wait per response ({_D.max_wait_s:g})",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        df = _read_input(args.input) if args.input else None
        return asyncio.run(_main(args, df))
    except (ValueError, TypeError, FileNotFoundError) as exc:
        sys.stderr.write(f"parquet-logger-retrieve: {exc}\n")
        return EXIT_USAGE


async def _main(args: argparse.Namespace, df: pd.DataFrame | None) -> int:
    task = asyncio.current_task()
    assert task is not None
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        # The first signal asks the job to stop (finished responses are checkpointed);
        # a second one exits at once.
        if signals:
            os._exit(EXIT_INTERRUPTED)
        signals.append(signum)
        task.cancel()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        results, counts = await run_retrieval(
            df, None, None, _options(args), log_dir=args.dir, discover_from=args.discover_from
        )
    except asyncio.CancelledError:
        if not signals:
            raise
        sys.stderr.write(f"parquet-logger-retrieve: stopped by signal {signals[0]}\n")
        return EXIT_INTERRUPTED
    except RetrievalAbortedError as exc:
        sys.stderr.write(f"parquet-logger-retrieve: {exc}\n{_summary(exc.counts)}\n")
        return EXIT_ABORTED
    if results is not None and args.output:
        _write_output(results, Path(args.output))
    sys.stderr.write(_summary(counts) + "\n")
    not_completed = sum(n for status, n in counts.items() if status != "completed")
    return EXIT_NOT_COMPLETED if not_completed else EXIT_OK


def _options(args: argparse.Namespace) -> RetrievalOptions:
    return RetrievalOptions(
        checkpoint_file=args.checkpoint,
        return_results=args.output is not None,
        show_progress=not args.no_progress,
        response_id_col=args.response_id_col,
        custom_id_col=args.custom_id_col,
        batch_size=args.batch_size,
        max_retries=args.max_retries,
        timeout=args.timeout,
        poll_interval_s=args.poll_interval_s,
        max_wait_s=args.max_wait_s,
    )


def _read_input(path: str) -> pd.DataFrame:
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    raise ValueError(f"--input must be a .parquet, .csv or .jsonl file, got {path!r}")


def _write_output(results: pd.DataFrame, path: Path) -> None:
    if path.suffix.lower() == ".csv":
        results.to_csv(path, index=False)
    else:
        results.to_parquet(path, index=False)


def _summary(counts: Counter[str]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
    return f"parquet-logger-retrieve: {total} response(s): {parts or 'nothing pending'}"


if __name__ == "__main__":
    sys.exit(main())
