"""The single-process scenarios: the hot path, calls through LangChain, an idle writer.

Each function runs one repetition of one system and returns plain figures (and the
read-back of its log directory, for the correctness checks).
"""

from __future__ import annotations

import gc
import shutil
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage

from scripts.bench.events import NoOpHandler, Player, Run
from scripts.bench.probe import CpuWindow, inspect_dir, percentiles_us
from scripts.bench.redaction import redaction_cost
from scripts.bench.systems import Lab, Logger, noop_logger, process_cpu_s, with_tags_of


@contextmanager
def measured() -> Iterator[None]:
    """Collect, then freeze the heap for a measured loop: the benchmark's own pre-built
    events must not make the garbage collector's passes longer for either logger."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass(frozen=True)
class HotPathInput:
    """The same runs for both systems: warm-up runs, then the measured ones."""

    player: Player
    warmup: list[Run]
    runs: list[Run]

    @property
    def events(self) -> int:
        return 2 * len(self.runs)


def loop_overhead_us(data: HotPathInput) -> float:
    """CPU per event of the playing loop itself (a no-op handler): subtracted from both."""
    handler = NoOpHandler()
    with measured():
        c0 = time.process_time()
        data.player.play_timed(handler, data.runs)
        return (time.process_time() - c0) / data.events * 1e6


def hot_path(lab: Lab, system: str, rep: int, data: HotPathInput) -> dict[str, Any]:
    """N events straight into the handler: latency of each call, and the CPU of every
    process involved until the last event is in a Parquet file."""
    log_dir = lab.new_dir(f"hot-{system}-{rep}")
    logger = lab.open(system, log_dir)
    data.player.play(logger.handler, data.warmup)
    logger.flush()
    with measured():
        window = CpuWindow.start()
        writer0, own0 = process_cpu_s(logger.writer), time.process_time()
        t0 = time.perf_counter()
        latencies = data.player.play_timed(logger.handler, data.runs)
        calls_s = time.perf_counter() - t0
        logger.flush()
        durable_s = time.perf_counter() - t0
        own_s, writer_s = time.process_time() - own0, process_cpu_s(logger.writer) - writer0
    window.add_bench_s(writer_s)
    noise = window.stop()
    counters = logger.counters()
    problems = lab.close(logger)
    expected = 2 * (len(data.warmup) + len(data.runs))
    found = inspect_dir(log_dir, expected, has_event_id=system == "ours")
    shutil.rmtree(log_dir)
    n = data.events
    latency = percentiles_us(latencies)
    # Outside the measured window: the same events built with and without redaction.
    redaction = (
        redaction_cost(data.player.serialized, data.runs[:1000])
        if system == "ours"
        else dict.fromkeys(("build_us", "build_unredacted_us", "redaction_us"))
    )
    return {
        "redaction": redaction,
        "events": n,
        "calls_s": calls_s,
        "durable_s": durable_s,
        "events_per_s": n / durable_s,
        "producer_cpu_us": own_s / n * 1e6,
        "writer_cpu_us": writer_s / n * 1e6 if logger.writer else None,
        "latency": latency,
        "floor": machine_floor(latency["p50_us"]),
        "latency_start": percentiles_us(latencies[0::2]),
        "latency_end": percentiles_us(latencies[1::2]),
        "counters": counters,
        "problems": problems,
        "found": found,
        "noise": noise,
    }


FLOOR_CALLS = 20_000  # enough samples for a p99.9


def machine_floor(median_us: float, calls: int = FLOOR_CALLS) -> dict[str, float]:
    """Latency percentiles of a bare busy loop whose calls last as long as `median_us`,
    timed as the handler calls are: what this machine alone (timer ticks, the hypervisor)
    adds to the tail of a call that long, with no logging, allocation or system call."""
    block = bytes(4096)
    clock = time.perf_counter_ns
    t0 = clock()
    for _ in range(1000):
        zlib.crc32(block)
    unit_us = (clock() - t0) / 1000 / 1e3
    reps = range(max(1, round(median_us / unit_us)))
    latencies = [0] * calls
    for i in range(calls):
        t0 = clock()
        for _ in reps:
            zlib.crc32(block)
        latencies[i] = clock() - t0
    return percentiles_us(latencies)


def add_cpu_per_event(rep: dict[str, Any], loop_us: float) -> None:
    """The logger's CPU per event: producer (less the playing loop) plus writer."""
    rep["loop_cpu_us"] = loop_us
    rep["producer_net_cpu_us"] = max(0.0, rep["producer_cpu_us"] - loop_us)
    rep["cpu_per_event_us"] = rep["producer_net_cpu_us"] + (rep["writer_cpu_us"] or 0.0)


# ---------------------------------------------------------------------- through LangChain
LANGCHAIN_VARIANTS = ("none", "noop", "ours", "theirs")


@dataclass(frozen=True)
class LangChainInput:
    inputs: list[list[BaseMessage]]
    responses: list[str]
    warmup: int
    invokes: int


def invoke_configs(variant: str, handler: BaseCallbackHandler | None, count: int) -> list[Any]:
    """One LangChain config per invoke: tags from the system's own with_tags, callbacks."""
    tag_system = variant if variant in ("ours", "theirs") else "ours"
    callbacks = [] if handler is None else [handler]
    return [
        {"tags": with_tags_of(tag_system, f"row-{i}"), "callbacks": callbacks} for i in range(count)
    ]


def langchain(lab: Lab, variant: str, rep: int, data: LangChainInput) -> dict[str, Any]:
    """`invokes` calls of a fake chat model with no handler, a no-op handler or a logger;
    the time runs until the logger's files are on disk."""
    log_dir = lab.new_dir(f"langchain-{variant}-{rep}")
    logger: Logger = (
        lab.open(variant, log_dir) if variant in ("ours", "theirs") else noop_logger(log_dir)
    )
    handler = None if variant == "none" else logger.handler
    model = FakeListChatModel(responses=data.responses)
    configs = invoke_configs(variant, handler, data.warmup + data.invokes)
    inputs, k = data.inputs, len(data.inputs)
    for i in range(data.warmup):
        model.invoke(inputs[i % k], config=configs[i])
    logger.flush()
    with measured():
        window = CpuWindow.start()
        writer0, own0 = process_cpu_s(logger.writer), time.process_time()
        t0 = time.perf_counter()
        for i in range(data.warmup, data.warmup + data.invokes):
            model.invoke(inputs[i % k], config=configs[i])
        calls_s = time.perf_counter() - t0
        logger.flush()
        durable_s = time.perf_counter() - t0
        own_s, writer_s = time.process_time() - own0, process_cpu_s(logger.writer) - writer0
    window.add_bench_s(writer_s)
    noise = window.stop()
    result: dict[str, Any] = {
        "invokes": data.invokes,
        "calls_us": calls_s / data.invokes * 1e6,
        "durable_us": durable_s / data.invokes * 1e6,
        "cpu_us": (own_s + writer_s) / data.invokes * 1e6,
        "producer_cpu_us": own_s / data.invokes * 1e6,
        "writer_cpu_us": writer_s / data.invokes * 1e6 if logger.writer else None,
        "noise": noise,
    }
    if variant in ("ours", "theirs"):
        result["counters"] = logger.counters()
        result["problems"] = lab.close(logger)
        expected = 2 * (data.warmup + data.invokes)
        result["found"] = inspect_dir(log_dir, expected, has_event_id=variant == "ours")
    shutil.rmtree(log_dir)
    return result


# ---------------------------------------------------------------------- idle
def idle(lab: Lab, system: str, data: HotPathInput, seconds: float) -> dict[str, Any]:
    """CPU used while nothing is logged, after a few events: by the writer (ours) and by
    the producer process (ours: its watchdog thread; theirs: its writer thread)."""
    log_dir = lab.new_dir(f"idle-{system}")
    logger = lab.open(system, log_dir)
    data.player.play(logger.handler, data.warmup[:10])
    logger.flush()
    time.sleep(min(1.0, seconds / 4))  # let the writer finish its flush and back off
    window = CpuWindow.start()
    writer0, own0, t0 = process_cpu_s(logger.writer), time.process_time(), time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    own_s, writer_s = time.process_time() - own0, process_cpu_s(logger.writer) - writer0
    window.add_bench_s(writer_s)
    noise = window.stop()
    problems = lab.close(logger)
    found = inspect_dir(log_dir, 20, has_event_id=system == "ours")
    shutil.rmtree(log_dir)
    return {
        "seconds": wall,
        "writer_cpu_pct": writer_s / wall * 100 if system == "ours" else None,
        "producer_cpu_pct": own_s / wall * 100,
        "problems": problems,
        "found": found,
        "noise": noise,
    }
