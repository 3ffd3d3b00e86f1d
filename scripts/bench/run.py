"""Runs the scenarios in order, the two systems interleaved (A B A B ...), and collects their
repetitions; one progress line per repetition."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.bench import chat_openai, scenarios, workers
from scripts.bench.events import (
    Player,
    chat_inputs,
    custom_id_tags,
    fake_responses,
    make_runs,
    make_templates,
)
from scripts.bench.model import serialized_model
from scripts.bench.probe import median_of, time_read_back
from scripts.bench.systems import SYSTEMS, Lab, with_tags_of

if TYPE_CHECKING:
    from scripts.bench.plan import Plan


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def interleaved(reps: int) -> list[tuple[int, str]]:
    """(repetition, system) in the order A B A B ..."""
    return [(rep, system) for rep in range(reps) for system in SYSTEMS]


def check_same_tags() -> None:
    """Both packages' with_tags must give the tags the events carry (identical events).

    Raises:
        SystemExit: they do not.
    """
    for system in SYSTEMS:
        got = with_tags_of(system, "row-1")
        if got != custom_id_tags("row-1"):
            raise SystemExit(f"{system}'s with_tags gives {got}, not {custom_id_tags('row-1')}")


def run_hot_path(lab: Lab, plan: Plan, seed: int) -> dict[str, Any]:
    templates = make_templates(seed)
    runs = make_runs(seed, plan.hot_warmup_runs + plan.hot_runs, templates, "row")
    data = scenarios.HotPathInput(
        Player(serialized_model()), runs[: plan.hot_warmup_runs], runs[plan.hot_warmup_runs :]
    )
    out: dict[str, Any] = {"ours": [], "theirs": [], "loop_cpu_us": []}
    for rep, system in interleaved(plan.reps):
        if system == SYSTEMS[0]:
            out["loop_cpu_us"].append(scenarios.loop_overhead_us(data))
        result = scenarios.hot_path(lab, system, rep, data)
        scenarios.add_cpu_per_event(result, out["loop_cpu_us"][-1])
        out[system].append(result)
        say(
            f"  hot path  {system:6} rep {rep}: {result['cpu_per_event_us']:7.1f} us CPU/event,"
            f" p99.9 {result['latency']['p999_us']:8.1f} us, {result['found']['rows']} rows"
        )
    return out


def run_langchain(lab: Lab, plan: Plan, seed: int) -> dict[str, Any]:
    data = scenarios.LangChainInput(
        chat_inputs(seed), fake_responses(seed), plan.langchain_warmup, plan.langchain_invokes
    )
    out: dict[str, Any] = {v: [] for v in scenarios.LANGCHAIN_VARIANTS}
    for rep in range(plan.reps):
        for variant in scenarios.LANGCHAIN_VARIANTS:
            result = scenarios.langchain(lab, variant, rep, data)
            out[variant].append(result)
            say(
                f"  langchain {variant:6} rep {rep}: {result['durable_us']:7.1f} us/invoke "
                "until durable"
            )
    return out


def run_chat_openai(lab: Lab, plan: Plan, seed: int) -> dict[str, Any]:
    data = chat_openai.ChatInput(
        chat_inputs(seed),
        plan.chat_warmup,
        plan.chat_rounds,
        plan.chat_block,
        plan.chat_async_block,
        plan.chat_concurrency,
    )
    out: dict[str, Any] = {}
    with chat_openai.ChatBench(data) as bench:
        for mode in chat_openai.MODES:
            out[mode] = result = bench.run_mode(lab, mode)
            cpu = ", ".join(
                f"{v} {median_of(result[v], 'own_cpu_us'):.0f}" for v in chat_openai.VARIANTS
            )
            say(
                f"  ChatOpenAI {mode:5}: CPU/call of the calling process (us, median of "
                f"{data.rounds} rounds): {cpu}; our writer {result['writer_cpu_us']:.0f}"
            )
    return out


def run_fleet(lab: Lab, plan: Plan, seed: int) -> dict[str, Any]:
    serialized = serialized_model()
    out: dict[str, Any] = {s: {str(p): [] for p in plan.fleet_sizes} for s in SYSTEMS}
    for p in plan.fleet_sizes:
        for rep, system in interleaved(plan.fleet_reps):
            result = workers.fleet(lab, system, p, plan.fleet_runs, seed, serialized, f"r{rep}")
            out[system][str(p)].append(result)
            say(
                f"  fleet P={p} {system:6} rep {rep}: {result['events_per_s']:9,.0f} events/s,"
                f" {result['found']['files']} files, {result['found']['rows']} rows"
            )
    return out


def run_read_back(plan: Plan, fleet: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    top = str(max(plan.fleet_sizes))
    for system in SYSTEMS:
        log_dir = Path(fleet[system][top][-1]["log_dir"])
        out[system] = read = time_read_back(log_dir, plan.read_back_repeats)
        if "error" in read:
            say(f"  read-back {system:6}: the directory cannot be read: {read['error']}")
            continue
        say(
            f"  read-back {system:6}: pandas {read['pandas_s']:.3f} s, "
            f"pyarrow {read['pyarrow_s']:.3f} s"
        )
    return out


def run_idle(lab: Lab, plan: Plan, seed: int) -> dict[str, Any]:
    templates = make_templates(seed)
    data = scenarios.HotPathInput(
        Player(serialized_model()), make_runs(seed, 10, templates, "row"), []
    )
    out = {}
    for system in SYSTEMS:
        out[system] = scenarios.idle(lab, system, data, plan.idle_s)
        writer = out[system]["writer_cpu_pct"]
        say(
            f"  idle {system:6}: writer "
            + ("-" if writer is None else f"{writer:.2f} % core")
            + f", producer process {out[system]['producer_cpu_pct']:.2f} % core"
        )
    return out


def run_sustained(lab: Lab, plan: Plan, seed: int) -> dict[str, Any]:
    serialized = serialized_model()
    out = {}
    for system in SYSTEMS:
        out[system] = workers.sustained(
            lab, system, plan.sustain_warmup_runs, plan.sustain_s, seed, serialized
        )
        say(
            f"  sustained {system:6}: {out[system]['events_per_s']:9,.0f} events/s, RSS "
            f"+{out[system]['rss_growth_mb']:.1f} MB, USS +{out[system]['uss_growth_mb']:.1f} MB"
        )
    return out


def run(plan: Plan, only: list[str], seed: int, root: Path) -> dict[str, Any]:
    """Every scenario named in `only` (in the order of plan.SCENARIOS), with log directories
    under `root`; every logger is closed and every writer gone when this returns."""
    check_same_tags()
    lab = Lab(root)
    results: dict[str, Any] = {}
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "hot_path": lambda: run_hot_path(lab, plan, seed),
        "langchain": lambda: run_langchain(lab, plan, seed),
        "chat_openai": lambda: run_chat_openai(lab, plan, seed),
        "fleet": lambda: run_fleet(lab, plan, seed),
        "read_back": lambda: run_read_back(plan, results["fleet"]),
        "idle": lambda: run_idle(lab, plan, seed),
        "sustained": lambda: run_sustained(lab, plan, seed),
    }
    try:
        for name, step in steps.items():
            if name in only:
                say(f"{name} ...")
                t0 = time.monotonic()
                results[name] = step()
                say(f"  ({time.monotonic() - t0:.1f} s)")
    finally:
        lab.close_all()
    results["harness_problems"] = lab.problems
    return results
