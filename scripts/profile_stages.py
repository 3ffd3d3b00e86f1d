"""Where the producer's time goes, stage by stage, without a profiler's overhead: the
benchmark's chat-model start and end events, each stage timed alone over many repetitions.

    python scripts/profile_stages.py [--runs 3000]

Stages: `content` (the callback's data/raw, with the JSON fragments it encodes), `envelope`
(the payload's one orjson call and the credential scan), `mask` (the scan alone, included in
`envelope`), `record` (typed columns, ids, the ring body), `put` (the ring put: lock, copy,
checksum). Figures are per event (half a run), best of three.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parquet_logger import ParquetLogger
from parquet_logger.capture.events import EventType
from parquet_logger.encode.safe_json import envelope_json
from scripts.bench.events import make_runs, make_templates
from scripts.bench.model import serialized_model
from scripts.bench.redaction import callback_events


def best_of(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of `fn`, the best of three rounds of `n` calls."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    args = parser.parse_args()
    templates = make_templates(seed=1)
    runs = make_runs(1, args.runs, templates, "s")
    events = callback_events(serialized_model(), runs)
    with tempfile.TemporaryDirectory() as tmp:
        logger = ParquetLogger(Path(tmp) / "logs", ring_size_bytes=512 << 20)
        try:
            content, records = logger._content, logger._records
            redactor = logger.settings.redactor
            built = [content.of(e) for e in events]  # warm caches; the runs remembered
            it = iter(range(0))

            def each(stage: Callable[[int], object]) -> float:
                nonlocal it
                it = iter(range(len(events)))
                return best_of(lambda: stage(next(it)), len(events) // 3) * 1e6

            def content_of(i: int) -> object:
                e = events[i]
                start = built[i - 1]
                if e.event_type == EventType.LLM_END and start is not None and start.run:
                    content.runs.remember(e.run_id, start.run)  # the end pops its run
                return content.of(e)

            payloads = [
                envelope_json({}, c.data, c.raw, 1 << 20, redactor)  # type: ignore[union-attr]
                for c in built
            ]
            bodies = [records.build(e, c) for e, c in zip(events, built, strict=True)]  # type: ignore[arg-type]
            attachment = logger._attachment
            assert attachment is not None
            stages = {
                "content": each(content_of),
                "envelope": each(
                    lambda i: envelope_json({}, built[i].data, built[i].raw, 1 << 20, redactor)  # type: ignore[union-attr]
                ),
                "mask": each(lambda i: redactor.mask_json(payloads[i])),
                "record": each(lambda i: records.build(events[i], built[i])),  # type: ignore[arg-type]
                "put": each(lambda i: attachment.put(bodies[i], 5.0, 5.0)),
            }
            logger.flush(timeout=120)
        finally:
            logger.close(timeout=120)
    size = sum(map(len, bodies)) / len(bodies)
    total = stages["content"] + stages["record"] + stages["put"]
    for name, us in stages.items():
        print(f"{name:>9}: {us:6.2f} us/event")
    print(f"    total: {total:6.2f} us/event (content + record + put; record includes envelope)")
    print(f"ring body: {size:,.0f} bytes/event")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
