"""`parquet-logger-retrieve`: fetch pending OpenAI background responses into a log directory,
for cron-style jobs. The OpenAI client comes from the environment (`OPENAI_API_KEY`,
`OPENAI_BASE_URL`, ...).

Exit codes: 0 every response completed; 1 some did not (failed, cancelled, incomplete, error,
timeout); 2 bad usage; 3 stopped by an authentication/permission/quota error; 4 stopped by
SIGTERM/SIGINT (what finished is checkpointed: run again to resume); 5 no OpenAI client could be
built (no API key in the environment, or openai not installed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from parquet_logger.errors import RetrievalAbortedError
from parquet_logger.retrieval.api import run_retrieval
from parquet_logger.retrieval.options import RetrievalOptions

EXIT_OK = 0
EXIT_NOT_COMPLETED = 1
EXIT_USAGE = 2
EXIT_ABORTED = 3
EXIT_INTERRUPTED = 4
EXIT_NO_CLIENT = 5

# What the OpenAI SDK reads from the environment when it builds its client (named in --help).
_ENVIRONMENT = """environment:
  OPENAI_API_KEY       the API key (required)
  OPENAI_BASE_URL      the API's base URL (default https://api.openai.com/v1)
  OPENAI_ORG_ID        the organization to bill (optional)
  OPENAI_PROJECT_ID    the project to bill (optional)"""

_EXIT_CODES = f"""exit codes:
  {EXIT_OK}  every response completed
  {EXIT_NOT_COMPLETED}  some did not complete (failed, cancelled, incomplete, error, timeout)
  {EXIT_USAGE}  bad usage
  {EXIT_ABORTED}  stopped by an authentication/permission/quota error
  {EXIT_INTERRUPTED}  interrupted by SIGTERM/SIGINT (finished work is checkpointed: rerun to resume)
  {EXIT_NO_CLIENT}  no OpenAI client: OPENAI_API_KEY unset, or openai not installed"""

_D = RetrievalOptions()  # the defaults, shared with retrieve_background_responses


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's line breaks and appends each option's default (if it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: {action.default})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="parquet-logger-retrieve",
        description="Fetch OpenAI background responses until they finish and log each outcome "
        "once (background_retrieval_* events) into a parquet-logger directory.",
        epilog=f"{_ENVIRONMENT}\n\n{_EXIT_CODES}",
        formatter_class=_HelpFormatter,
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
    p.add_argument(
        "--response-id-col", default=_D.response_id_col, help="the response-id column of --input"
    )
    p.add_argument(
        "--custom-id-col",
        default=_D.custom_id_col,
        help="the custom-id column of --input (the seed's logger_custom_id is also accepted)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=_D.batch_size,
        help="requests in flight",
    )
    p.add_argument(
        "--max-retries",
        type=int,
        default=_D.max_retries,
        help="retries per request",
    )
    p.add_argument("--timeout", type=float, default=_D.timeout, help="seconds per request")
    p.add_argument(
        "--poll-interval-s",
        type=float,
        default=_D.poll_interval_s,
        help="seconds between polls",
    )
    p.add_argument(
        "--max-wait-s",
        type=float,
        default=_D.max_wait_s,
        help="longest wait per response, in seconds",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    args = build_parser().parse_args(argv)
    try:
        options = _options(args)
        df = _read_input(args.input) if args.input else None
        client = _client_from_environment()
        return asyncio.run(_main(args, options, df, client))
    except _NoClient as exc:
        sys.stderr.write(f"parquet-logger-retrieve: {exc}\n")
        return EXIT_NO_CLIENT
    except (ValueError, TypeError, FileNotFoundError) as exc:
        sys.stderr.write(f"parquet-logger-retrieve: {exc}\n")
        return EXIT_USAGE


class _NoClient(Exception):
    """No OpenAI client could be built from the environment; the message says what to set."""


def _client_from_environment() -> Any:
    """An `openai.AsyncOpenAI()` from the environment, built before any work starts so that
    a missing key is one line and its own exit code, not a traceback from the first request."""
    try:
        import openai
    except ImportError:
        raise _NoClient(
            "the openai package is not installed: pip install 'parquet-logger[openai]'"
        ) from None
    try:
        return openai.AsyncOpenAI()
    except openai.OpenAIError as exc:
        if not os.environ.get("OPENAI_API_KEY"):
            raise _NoClient(
                "OPENAI_API_KEY is not set: export it (and OPENAI_BASE_URL for another "
                "endpoint), see --help"
            ) from None
        raise _NoClient(f"the OpenAI client could not be built: {exc}") from None


async def _main(
    args: argparse.Namespace, options: RetrievalOptions, df: pd.DataFrame | None, client: Any
) -> int:
    async with client:  # we built it, so we close it
        return await _retrieve(args, options, df, client)


async def _retrieve(
    args: argparse.Namespace, options: RetrievalOptions, df: pd.DataFrame | None, client: Any
) -> int:
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
            df, client, None, options, log_dir=args.dir, discover_from=args.discover_from
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
