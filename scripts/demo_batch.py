"""Demo: a DataFrame of prompts through ChatOpenAI against a local fake OpenAI server with
`batch_process`, then a summary read back from the Parquet logs.

    python scripts/demo_batch.py [--rows 200] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fake_openai

from parquet_logger import batch_process, with_tags
from tests.fake_openai import FakeOpenAI


def say(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")


async def run(rows: int, output_dir: Path, fake: FakeOpenAI) -> Path:
    """Process `rows` prompts (with two injected 429s) and return the job's log folder."""
    df = pd.DataFrame(
        {
            "prompt": [f"Summarise document {i}" for i in range(rows)],
            "config": [with_tags(custom_id=f"doc-{i}") for i in range(rows)],
        }
    )
    fake.fail_next(429, times=2)
    results = await batch_process(
        df,
        llm_kwargs={"model": "demo-model", "api_key": "sk-demo", "base_url": fake.base_url},
        job_category="demo",
        job_subcategory="summaries",
        job_version="1.0",
        job_metadata={"owner": "demo"},
        output_dir=output_dir,
        max_concurrency=20,
        retry_initial_wait_s=0.05,
    )
    assert results is not None
    failed = sum(isinstance(r, BaseException) for r in results)
    say(f"{len(results)} results in row order, {failed} failed; first: {results[0].content!r}")
    return output_dir / "demo" / "summaries" / "v1_0"


def summarise(log_dir: Path) -> None:
    """Print what the logs hold: events per type, rows covered, tokens, the job metadata."""
    table = ds.dataset(log_dir, format="parquet", partitioning="hive").to_table().to_pandas()
    say(f"\n{len(table)} events under {log_dir}")
    say(table["event_type"].value_counts().to_string())
    ends = table[table["event_type"] == "llm_end"]
    say(f"rows with an llm_end: {ends['custom_id'].nunique()}")
    say(f"total tokens: {int(ends['total_tokens'].sum())}")
    say(f"latency p50: {ends['latency_ms'].median():.1f} ms")
    meta = json.loads(table["logger_metadata"].iloc[0])
    say("job:", json.dumps(meta["batch_config"]["job"]))
    say("llm api_key in metadata:", meta["batch_config"]["llm"]["llm_kwargs"]["api_key"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "0")
    fake = FakeOpenAI().start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            output_dir = args.output_dir or Path(scratch) / "batch_logs"
            log_dir = asyncio.run(run(args.rows, output_dir, fake))
            summarise(log_dir)
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
