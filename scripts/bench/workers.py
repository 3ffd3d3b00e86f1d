"""The multi-process scenarios: P spawned workers logging into one directory, and one
producer under sustained load. The `*_worker` functions run in the spawned children: they
import only their own system's package (through systems.py) and report to a queue."""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import random
import shutil
import time
import traceback
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil

from scripts.bench.events import Player, Run, custom_id_tags, make_runs, make_templates
from scripts.bench.probe import MB, CpuWindow, MemorySampler, inspect_dir
from scripts.bench.systems import Lab, Logger, open_logger, peak_rss_bytes, process_cpu_s

READY_TIMEOUT_S = 180.0
RUN_TIMEOUT_S = 600.0
SAMPLE_PERIOD_S = 0.5  # the sustained producer samples its own memory this often
USS_SAMPLE_PERIOD_S = 1.0  # reading smaps costs ~3 ms per process: sample workers slowly
BATCH_RUNS = 128


def _report_failure(results: Any, what: str) -> None:
    results.put({"pid": os.getpid(), "error": f"{what}: {traceback.format_exc()}"})


# ---------------------------------------------------------------------- children
def fleet_worker(
    system: str,
    log_dir: str,
    worker: int,
    runs: int,
    seed: int,
    serialized: dict[str, Any],
    go: Any,
    results: Any,
) -> None:
    """Log `runs` runs once `go` is set, flush until durable, report, close."""
    try:
        logger = open_logger(system, Path(log_dir), find_writer=False)
        templates = make_templates(seed)
        work = make_runs(seed + 7919 * (worker + 1), runs, templates, f"row-w{worker}")
        player = Player(serialized)
        results.put({"pid": os.getpid(), "ready": True})
        if not go.wait(READY_TIMEOUT_S):
            raise TimeoutError("never told to go")
        cpu0 = time.process_time()
        player.play(logger.handler, work)
        logger.flush()
        done = time.monotonic()
        cpu_run = time.process_time() - cpu0
        results.put(
            {
                "pid": os.getpid(),
                "done_at": done,
                "cpu_run_s": cpu_run,
                "cpu_total_s": time.process_time(),
                "peak_rss": peak_rss_bytes(),
                "uss_end": psutil.Process().memory_full_info().uss,
                "sent": 2 * runs,
                **logger.counters(),
            }
        )
        logger.close()
    except Exception:
        _report_failure(results, f"worker {worker}")


def _fresh_runs(rng: random.Random, first: int, count: int, player_templates: Any) -> list[Run]:
    return [
        Run(
            run_id=UUID(int=rng.getrandbits(128), version=4),
            tags=custom_id_tags(f"row-{first + i}"),
            template=player_templates[(first + i) % len(player_templates)],
        )
        for i in range(count)
    ]


def sustain_worker(
    system: str,
    log_dir: str,
    warmup_runs: int,
    seconds: float,
    seed: int,
    serialized: dict[str, Any],
    results: Any,
) -> None:
    """Warm up (ours: enough to wrap the ring once), then log as fast as possible for
    `seconds`, sampling this process's RSS and USS; report the samples."""
    try:
        logger = open_logger(system, Path(log_dir), find_writer=False)
        templates = make_templates(seed)
        player = Player(serialized)
        rng = random.Random(seed)
        sent = 0
        while sent < warmup_runs:
            player.play(logger.handler, _fresh_runs(rng, sent, BATCH_RUNS, templates))
            sent += BATCH_RUNS
        logger.flush()
        gc.collect()
        me = psutil.Process()

        def sample(t: float) -> dict[str, float]:
            info = me.memory_full_info()
            return {"t": t, "events": 2 * sent, "rss": info.rss, "uss": info.uss}

        t0 = time.monotonic()
        samples = [sample(0.0)]
        next_sample = t0 + SAMPLE_PERIOD_S
        while (now := time.monotonic()) - t0 < seconds:
            player.play(logger.handler, _fresh_runs(rng, sent, BATCH_RUNS, templates))
            sent += BATCH_RUNS
            if now >= next_sample:
                samples.append(sample(now - t0))
                next_sample = now + SAMPLE_PERIOD_S
        loaded_s = time.monotonic() - t0
        samples.append(sample(loaded_s))
        logger.flush()
        after_flush = sample(time.monotonic() - t0)
        results.put(
            {
                "pid": os.getpid(),
                "loaded_s": loaded_s,
                "samples": samples,
                "after_flush": after_flush,
                "sent": 2 * sent,
                "warmup_events": 2 * warmup_runs,
                **logger.counters(),
            }
        )
        logger.close()
    except Exception:
        _report_failure(results, "sustained producer")


# ---------------------------------------------------------------------- parent side
def _holder(lab: Lab, system: str, log_dir: Path) -> Logger | None:
    """For ours, a logger of this process on the directory: it starts the writer as our
    child and keeps it alive until we have read its figures."""
    return lab.open("ours", log_dir) if system == "ours" else None


def _collect(results: Any, count: int, key: str, timeout: float) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(got)} of {count} workers reported {key!r}")
        try:
            message = results.get(timeout=left)
        except queue.Empty:
            continue
        if "error" in message:
            raise RuntimeError(message["error"])
        if key in message:
            got.append(message)
    return got


def fleet(
    lab: Lab,
    system: str,
    workers: int,
    runs: int,
    seed: int,
    serialized: dict[str, Any],
    tag: str,
) -> dict[str, Any]:
    """`workers` spawned processes x `runs` runs into one directory: events/s until every
    worker's events are durable, files, bytes, rows read back, peak memory."""
    log_dir = lab.new_dir(f"fleet-{system}-P{workers}-{tag}")
    ctx: Any = multiprocessing.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    holder = _holder(lab, system, log_dir)
    writer = holder.writer if holder else None
    window = CpuWindow.start()
    writer_cpu0 = process_cpu_s(writer)
    procs = [
        ctx.Process(
            target=fleet_worker,
            args=(system, str(log_dir), w, runs, seed, serialized, go, results),
            daemon=True,
        )
        for w in range(workers)
    ]
    try:
        with MemorySampler(USS_SAMPLE_PERIOD_S) as memory:
            if writer is not None:
                memory.watch(writer.pid)
            for proc in procs:
                proc.start()
                memory.watch(proc.pid)
            _collect(results, workers, "ready", READY_TIMEOUT_S)
            writer_go = process_cpu_s(writer)
            t0 = time.monotonic()
            go.set()
            reports = _collect(results, workers, "done_at", RUN_TIMEOUT_S)
            elapsed = max(r["done_at"] for r in reports) - t0
            writer_run_s = process_cpu_s(writer) - writer_go
            memory.sample()
            writer_peak_rss = peak_rss_bytes(writer.pid) if writer else 0
        for proc in procs:
            proc.join(60)
        exit_codes = [proc.exitcode for proc in procs]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(10)
    # The workers were joined (reaped): their CPU is in this process's children times.
    window.add_bench_s(process_cpu_s(writer) - writer_cpu0)
    noise = window.stop()
    writer_peak_uss = memory.peak_uss.get(writer.pid, 0) if writer else 0
    problems = lab.close(holder) if holder else []
    sent = sum(r["sent"] for r in reports)
    found = inspect_dir(log_dir, sent, has_event_id=system == "ours")
    cpu_run = sum(r["cpu_run_s"] for r in reports) + writer_run_s
    return {
        "workers": workers,
        "events": sent,
        "elapsed_s": elapsed,
        "events_per_s": sent / elapsed,
        "cpu_per_event_us": cpu_run / sent * 1e6,
        "writer_cpu_per_event_us": writer_run_s / sent * 1e6,
        "worker_peak_rss_mb": max(r["peak_rss"] for r in reports) / MB,
        "worker_peak_uss_mb": max(memory.peak_uss.get(r["pid"], r["uss_end"]) for r in reports)
        / MB,
        "writer_peak_rss_mb": writer_peak_rss / MB if writer else None,
        "writer_peak_uss_mb": writer_peak_uss / MB if writer else None,
        "exit_codes": exit_codes,
        "dropped_events": sum(r["dropped_events"] for r in reports),
        "callback_failures": sum(r["callback_failures"] for r in reports),
        "problems": problems,
        "found": found,
        "log_dir": str(log_dir),
        "noise": noise,
    }


def sustained(
    lab: Lab,
    system: str,
    warmup_runs: int,
    seconds: float,
    seed: int,
    serialized: dict[str, Any],
) -> dict[str, Any]:
    """One spawned producer under sustained load: how much its memory grows."""
    log_dir = lab.new_dir(f"sustained-{system}")
    ctx: Any = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    holder = _holder(lab, system, log_dir)
    writer = holder.writer if holder else None
    window = CpuWindow.start()
    writer_cpu0 = process_cpu_s(writer)
    proc = ctx.Process(
        target=sustain_worker,
        args=(system, str(log_dir), warmup_runs, seconds, seed, serialized, results),
        daemon=True,
    )
    proc.start()
    try:
        (report,) = _collect(results, 1, "samples", RUN_TIMEOUT_S)
        proc.join(60)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)
    window.add_bench_s(process_cpu_s(writer) - writer_cpu0)
    noise = window.stop()
    problems = lab.close(holder) if holder else []
    found = inspect_dir(log_dir, report["sent"], has_event_id=system == "ours")
    shutil.rmtree(log_dir)
    return {
        **_growth(report),
        "exit_code": proc.exitcode,
        "problems": problems,
        "found": found,
        "noise": noise,
    }


def _growth(report: dict[str, Any]) -> dict[str, Any]:
    """Memory growth under load: peak minus the warmed-up baseline, and how much of it came
    in the second half of the run (a bounded producer adds nothing there)."""
    samples = report["samples"]
    base = samples[0]
    half = [s for s in samples if s["t"] <= report["loaded_s"] / 2] or samples[:1]
    loaded_events = samples[-1]["events"] - base["events"]
    out: dict[str, Any] = {
        "loaded_s": report["loaded_s"],
        "events": loaded_events,
        "events_per_s": loaded_events / report["loaded_s"],
        "dropped_events": report["dropped_events"],
        "callback_failures": report["callback_failures"],
        "samples": samples,
    }
    for kind in ("rss", "uss"):
        peak = max(s[kind] for s in samples)
        out[f"{kind}_base_mb"] = base[kind] / MB
        out[f"{kind}_growth_mb"] = (peak - base[kind]) / MB
        out[f"{kind}_second_half_growth_mb"] = (peak - max(s[kind] for s in half)) / MB
        out[f"{kind}_after_flush_mb"] = report["after_flush"][kind] / MB
    return out
