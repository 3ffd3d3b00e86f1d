"""From raw repetitions to the benchmark's figures: medians, ours/theirs ratios, and the
issue's targets, each marked met or missed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scripts.bench.probe import median, median_of


@dataclass(frozen=True)
class Target:
    """A target on ours alone (`abs_le`), or on ours/theirs (`ratio_le`, `ratio_ge`)."""

    kind: str
    value: float
    text: str

    def met(self, ours: float | None, theirs: float | None) -> bool | None:
        if ours is None:
            return None
        if self.kind == "abs_le":
            return ours <= self.value
        if not theirs:
            return None
        ratio = ours / theirs
        return ratio <= self.value if self.kind == "ratio_le" else ratio >= self.value


def ratio_le(denominator: int) -> Target:
    return Target("ratio_le", 1 / denominator, f"<= 1/{denominator} of theirs")


def ratio_ge(factor: float) -> Target:
    return Target("ratio_ge", factor, f">= {factor:g}x theirs")


def abs_le(value: float, text: str) -> Target:
    return Target("abs_le", value, text)


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    ours: float | None
    theirs: float | None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.theirs:
            return None
        return self.ours / self.theirs

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met(self.ours, self.theirs)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["target"] = None if self.target is None else self.target.text
        out["ratio"] = self.ratio
        out["met"] = self.met
        return out


# ---------------------------------------------------------------------- figures
def _med(reps: Sequence[dict[str, Any]] | None, key: str) -> float | None:
    if not reps:
        return None
    try:
        return median_of(reps, key)
    except TypeError:  # None: the figure does not apply to this system
        return None


def hot_path_figures(hot: dict[str, Any]) -> list[Figure]:
    o, t = hot.get("ours"), hot.get("theirs")

    def fig(name: str, unit: str, key: str, target: Target | None = None) -> Figure:
        return Figure(name, unit, _med(o, key), _med(t, key), target)

    return [
        fig(
            "hot path: CPU/event, all processes, until durable",
            "us",
            "cpu_per_event_us",
            ratio_le(4),
        ),
        fig(
            "  of which the logging process, less the loop",
            "us",
            "producer_net_cpu_us",
            ratio_le(5),
        ),
        fig("    of which building the ring body (in-process timing)", "us", "redaction.build_us"),
        fig(
            "      of which redaction (keys walk + credential scan)", "us", "redaction.redaction_us"
        ),
        fig("  of which the writer process", "us", "writer_cpu_us"),
        fig("hot path: caller latency p50", "us", "latency.p50_us"),
        fig("hot path: caller latency p99", "us", "latency.p99_us"),
        fig("hot path: caller latency p99.9", "us", "latency.p999_us", ratio_le(20)),
        fig("  p99.9 of a bare loop as long as the median call", "us", "floor.p999_us"),
        fig("hot path: caller latency max", "us", "latency.max_us"),
        fig("hot path: events/s until durable", "ev/s", "events_per_s"),
        fig("hot path: bytes per event on disk", "B", "found.bytes_per_event"),
    ]


def langchain_figures(lc: dict[str, Any]) -> list[Figure]:
    if not lc:
        return []
    reps = len(lc["noop"])

    def added(system: str, base: str, key: str) -> float | None:
        if system not in lc:
            return None
        return median(lc[system][i][key] - lc[base][i][key] for i in range(reps))

    none_us = _med(lc["none"], "durable_us")
    noop_us = _med(lc["noop"], "durable_us")
    return [
        Figure("LangChain: invoke, no handler (baseline)", "us", none_us, None),
        Figure("LangChain: invoke, no-op handler (baseline)", "us", noop_us, None),
        Figure(
            "LangChain: added cost/invoke vs no-op handler, until durable",
            "us",
            added("ours", "noop", "durable_us"),
            added("theirs", "noop", "durable_us"),
            ratio_le(8),
        ),
        Figure(
            "LangChain: added cost/invoke vs no handler, until durable",
            "us",
            added("ours", "none", "durable_us"),
            added("theirs", "none", "durable_us"),
        ),
        Figure(
            "LangChain: added CPU/invoke vs no-op, all processes",
            "us",
            added("ours", "noop", "cpu_us"),
            added("theirs", "noop", "cpu_us"),
        ),
    ]


CHAT_TARGET = abs_le(5.0, "<= 5 %")


def _added_pct(by_variant: dict[str, Any], system: str, key: str) -> float | None:
    """Median over rounds of `system`'s `key` above the no-logger calling process's CPU, in
    percent of it (each round's block paired with the no-logger block of the same round)."""
    reps, none = by_variant.get(system), by_variant["none"]
    if not reps:
        return None
    return median(
        (rep[key] - base["own_cpu_us"]) / base["own_cpu_us"] * 100
        for rep, base in zip(reps, none, strict=False)
    )


def chat_openai_figures(chat: dict[str, Any]) -> list[Figure]:
    """Each logger's added CPU per real ChatOpenAI call, in percent of the same calls with no
    logger (the variants took turns in short blocks)."""
    figures = []
    for mode, by_variant in chat.items():
        none = by_variant["none"]
        label = "invoke" if mode == "sync" else f"{by_variant['concurrency']} concurrent ainvokes"
        figures += [
            Figure(
                f"ChatOpenAI {label}: CPU/call, no logger", "us", _med(none, "own_cpu_us"), None
            ),
            Figure(
                "  added CPU, calling process",
                "%",
                _added_pct(by_variant, "ours", "own_cpu_us"),
                _added_pct(by_variant, "theirs", "own_cpu_us"),
                CHAT_TARGET,
            ),
            Figure(
                "  added CPU, all processes, until durable",
                "%",
                _added_pct(by_variant, "ours", "cpu_us"),
                _added_pct(by_variant, "theirs", "cpu_us"),
                CHAT_TARGET,
            ),
        ]
        if "noop" in by_variant:  # results of runs before the floor was measured lack it
            floor = _added_pct(by_variant, "noop", "own_cpu_us")
            figures += [
                # The same for any handler: LangChain builds run managers and dispatches.
                Figure("  added CPU, a handler that does nothing (floor)", "%", floor, floor),
                Figure(
                    "  added CPU above that floor, all processes",
                    "%",
                    _above(_added_pct(by_variant, "ours", "cpu_us"), floor),
                    _above(_added_pct(by_variant, "theirs", "cpu_us"), floor),
                ),
            ]
    return figures


def _above(added: float | None, floor: float | None) -> float | None:
    return None if added is None or floor is None else added - floor


def fleet_figures(fleet: dict[str, Any], sizes: Sequence[int]) -> list[Figure]:
    if not fleet:
        return []
    o, t = fleet.get("ours", {}), fleet.get("theirs", {})
    top = max(sizes)
    figures = []
    for p in sizes:
        target = ratio_ge(3.5) if p == top else None
        figures.append(
            Figure(
                f"P={p}: events/s until durable",
                "ev/s",
                _med(o.get(str(p)), "events_per_s"),
                _med(t.get(str(p)), "events_per_s"),
                target,
            )
        )

    def fig(name: str, unit: str, key: str, target: Target | None = None) -> Figure:
        return Figure(
            f"P={top}: {name}", unit, _med(o.get(str(top)), key), _med(t.get(str(top)), key), target
        )

    return [
        *figures,
        fig("CPU/event, all processes", "us", "cpu_per_event_us"),
        fig("files", "", "found.files", abs_le(10, "<= 10")),
        fig("bytes per event on disk", "B", "found.bytes_per_event", ratio_le(2)),
        fig("rows read back", "", "found.rows"),
        fig("events lost", "", "found.lost"),
        fig("duplicates", "", "found.duplicates"),
        fig("peak RSS of a worker", "MB", "worker_peak_rss_mb"),
        fig("peak USS of a worker", "MB", "worker_peak_uss_mb"),
        fig("peak RSS of the writer process", "MB", "writer_peak_rss_mb"),
        fig("peak USS of the writer process", "MB", "writer_peak_uss_mb"),
    ]


def other_figures(results: dict[str, Any]) -> list[Figure]:
    figures = []
    rb = results.get("read_back", {})
    if rb:
        o, t = rb.get("ours", {}), rb.get("theirs", {})
        rows = (o.get("rows") or ["?"])[0]
        figures += [
            Figure(f"read-back, pandas ({rows} rows)", "s", o.get("pandas_s"), t.get("pandas_s")),
            Figure(
                f"read-back, pyarrow ({rows} rows)", "s", o.get("pyarrow_s"), t.get("pyarrow_s")
            ),
        ]
    idle = results.get("idle", {})
    if idle:
        o, t = idle.get("ours", {}), idle.get("theirs", {})
        figures += [
            Figure(
                "idle: writer CPU",
                "% core",
                o.get("writer_cpu_pct"),
                None,
                abs_le(1.0, "<= 1 % of a core"),
            ),
            Figure(
                "idle: producer process CPU",
                "% core",
                o.get("producer_cpu_pct"),
                t.get("producer_cpu_pct"),
            ),
        ]
    sus = results.get("sustained", {})
    if sus:
        o, t = sus.get("ours", {}), sus.get("theirs", {})
        bounded = abs_le(20.0, "<= 20 MB, bounded")
        figures += [
            Figure(
                "sustained load: events/s", "ev/s", o.get("events_per_s"), t.get("events_per_s")
            ),
            Figure(
                "sustained load: producer RSS growth",
                "MB",
                o.get("rss_growth_mb"),
                t.get("rss_growth_mb"),
                bounded,
            ),
            Figure(
                "sustained load: producer USS growth",
                "MB",
                o.get("uss_growth_mb"),
                t.get("uss_growth_mb"),
                bounded,
            ),
            Figure(
                "  growth in the second half of the run (USS)",
                "MB",
                o.get("uss_second_half_growth_mb"),
                t.get("uss_second_half_growth_mb"),
                abs_le(2.0, "<= 2 MB (bounded)"),
            ),
        ]
    return figures


def integrity_figure(results: dict[str, Any]) -> Figure:
    """Events lost or duplicated and unreadable files, summed over every scenario."""
    totals = {"ours": 0, "theirs": 0}
    for system, found in all_found(results):
        totals[system] += (
            max(0, found["lost"])
            + found["duplicates"]
            + found["duplicate_event_ids"]
            + found["unreadable_files"]
        )
    return Figure(
        "events lost + duplicated + unreadable files, all scenarios",
        "",
        totals["ours"],
        totals["theirs"],
        abs_le(0, "0"),
    )


def all_found(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(system, inspect_dir result) of every log directory the run read back."""
    out: list[tuple[str, dict[str, Any]]] = []
    for system in ("ours", "theirs"):
        out += [(system, r["found"]) for r in results.get("hot_path", {}).get(system, [])]
        out += [(system, r["found"]) for r in results.get("langchain", {}).get(system, [])]
        for by_mode in results.get("chat_openai", {}).values():
            if system in by_mode["logs"]:
                out.append((system, by_mode["logs"][system]["found"]))
        for reps in results.get("fleet", {}).get(system, {}).values():
            out += [(system, r["found"]) for r in reps]
        for scenario in ("idle", "sustained"):
            if system in results.get(scenario, {}):
                out.append((system, results[scenario][system]["found"]))
    return out


def build_figures(results: dict[str, Any], fleet_sizes: Sequence[int]) -> list[Figure]:
    return (
        hot_path_figures(results.get("hot_path", {}))
        + langchain_figures(results.get("langchain", {}))
        + chat_openai_figures(results.get("chat_openai", {}))
        + fleet_figures(results.get("fleet", {}), fleet_sizes)
        + other_figures(results)
        + [integrity_figure(results)]
    )
