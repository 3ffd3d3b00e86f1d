"""What the benchmark prints and gates on: the correctness checks of every log directory it
read back, the table of figures, and the CPU other processes used meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from scripts.bench.figures import Figure
from scripts.bench.probe import checks_of, median_of


def correctness(results: dict[str, Any]) -> tuple[dict[str, bool], dict[str, bool]]:
    """(checks that gate the exit code, facts about theirs that do not).

    Every check of ours gates. Checks of theirs gate in the single-process scenarios, where
    a failure would mean this harness drove it wrongly; in the multi-process scenario its
    lost or duplicated rows are a known defect of that package (file names made of the
    time of day collide across processes), reported but not gating.
    """
    gate: dict[str, bool] = {}
    info: dict[str, bool] = {}

    def add(target: dict[str, bool], prefix: str, reps: Sequence[dict[str, Any]]) -> None:
        merged: dict[str, bool] = {}
        for rep in reps:
            facts = checks_of(rep["found"], prefix)
            facts[f"{prefix}.nothing_dropped"] = not rep.get("dropped_events") and not rep.get(
                "counters", {}
            ).get("dropped_events")
            facts[f"{prefix}.no_callback_failures"] = not rep.get(
                "callback_failures"
            ) and not rep.get("counters", {}).get("callback_failures")
            facts[f"{prefix}.clean_shutdown"] = not rep.get("problems")
            for key, ok in facts.items():
                merged[key] = merged.get(key, True) and ok
        target.update(merged)

    for system in ("ours", "theirs"):
        for scenario in ("hot_path", "langchain"):
            reps = results.get(scenario, {}).get(system)
            if reps:
                add(gate, f"{scenario}.{system}", reps)
        for mode, by_mode in results.get("chat_openai", {}).items():
            if system in by_mode["logs"]:
                add(gate, f"chat_openai.{mode}.{system}", [by_mode["logs"][system]])
        for scenario in ("idle", "sustained"):
            rep = results.get(scenario, {}).get(system)
            if rep:
                add(gate, f"{scenario}.{system}", [rep])
        for p, reps in results.get("fleet", {}).get(system, {}).items():
            prefix = f"fleet.{system}.P{p}"
            add(gate if system == "ours" else info, prefix, reps)
            gate[f"{prefix}.workers_exit_0"] = all(
                code == 0 for rep in reps for code in rep["exit_codes"]
            )
    sustained = results.get("sustained", {})
    for system, rep in sustained.items():
        gate[f"sustained.{system}.exit_0"] = rep.get("exit_code") == 0
    return gate, info


# ---------------------------------------------------------------------- the table
def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"1/{1 / value:.0f}" if 0 < value < 0.1 else f"{value:.2f}"


def table(figures: Sequence[Figure]) -> list[str]:
    """The figures as text lines: ours, theirs, ratio, target, met/missed."""
    head = ("figure", "unit", "ours", "theirs", "ours/theirs", "target", "")
    rows = [head]
    for f in figures:
        if f.ours is None and f.theirs is None:
            continue  # its scenario did not run (--only)
        mark = {True: "met", False: "MISSED", None: ""}[f.met]
        target = f.target.text if f.target else ""
        rows.append(
            (f.name, f.unit, _number(f.ours), _number(f.theirs), _ratio(f.ratio), target, mark)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    left: Callable[[str, int], str] = str.ljust
    right: Callable[[str, int], str] = str.rjust
    align = [left, left, right, right, right, left, left]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(align[i](cell, widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def noise_lines(results: dict[str, Any]) -> list[str]:
    """Median CPU of other processes (in cores) during each scenario and system."""
    lines = []
    for scenario, by_system in results.items():
        if not isinstance(by_system, dict):
            continue
        parts = []
        for system, value in by_system.items():
            reps: list[dict[str, Any]] = []
            if isinstance(value, list):
                reps = value
            elif isinstance(value, dict) and "noise" in value:
                reps = [value]
            elif isinstance(value, dict):
                reps = [r for v in value.values() if isinstance(v, list) for r in v]
            reps = [r for r in reps if isinstance(r, dict) and "noise" in r]
            if reps:
                parts.append(f"{system} {median_of(reps, 'noise.others_cores'):.2f}")
        if parts:
            lines.append(f"  {scenario}: " + ", ".join(parts))
    return lines
