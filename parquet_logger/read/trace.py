"""One trace: the tree of runs under a root run, as a frame and as text."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from parquet_logger.read.cost import PriceSource, price_table
from parquet_logger.read.frames import to_pandas
from parquet_logger.read.runs import build_runs
from parquet_logger.read.scan import Filters, TimeLike, scan
from parquet_logger.read.source import Source, SourceLike, open_source
from parquet_logger.read.sql import connect

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Trace:
    """A trace's runs in depth-first order (each run after its parent, siblings by start
    time), with `depth` and `parent_run_id`; `str(trace)` draws the tree."""

    trace_id: str
    root_run_id: str
    runs: pd.DataFrame

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """The tree as text: one line per run with its kind, status, duration, model,
        tokens and cost; a root that was not logged is named as such."""
        frame = self.runs
        if frame.empty:
            return f"trace {self.trace_id}: no runs"
        lines = [f"trace {self.trace_id}"]
        ids = set(frame["run_id"])
        if self.root_run_id not in ids:
            lines.append(f"{self.root_run_id} (not logged)")
        kids: dict[str, list[int]] = {}
        for i, parent in enumerate(frame["parent_run_id"]):
            kids.setdefault(parent if parent in ids else "", []).append(i)

        def walk(i: int, prefix: str, last: bool) -> None:
            lines.append(prefix + ("└─ " if last else "├─ ") + describe(frame.iloc[i]))
            below = kids.get(frame["run_id"].iloc[i], [])
            for n, child in enumerate(below):
                walk(child, prefix + ("   " if last else "│  "), n == len(below) - 1)

        tops = kids.get("", [])
        for n, i in enumerate(tops):
            walk(i, "", n == len(tops) - 1)
        return "\n".join(lines)


def describe(run: pd.Series) -> str:
    """One run as a line of the tree."""
    parts = [f"{run['name'] or run['run_id']} [{run['run_type'] or '?'}]", str(run["status"])]
    if pd.notna(run["duration_ms"]):
        parts.append(_duration(float(run["duration_ms"])))
    if isinstance(run["model"], str):
        parts.append(run["model"])
    if pd.notna(run["input_tokens"]) or pd.notna(run["output_tokens"]):
        inp = 0 if pd.isna(run["input_tokens"]) else int(run["input_tokens"])
        out = 0 if pd.isna(run["output_tokens"]) else int(run["output_tokens"])
        parts.append(f"{inp}→{out} tokens")
    if pd.notna(run["cost_usd"]):
        parts.append(f"${float(run['cost_usd']):.6f}")
    if isinstance(run["error_type"], str):
        parts.append(f"{run['error_type'].rsplit('.', 1)[-1]}")
    return "  ".join(parts)


def _duration(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def trace(
    source: SourceLike,
    trace_or_run_id: str,
    *,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
    prices: PriceSource = None,
    text: bool = True,
) -> Trace:
    """The trace holding a run: every run under the same root, with its depth and parent.

    Args:
        source: a log directory, an `s3://bucket/prefix`, or an opened `Source`.
        trace_or_run_id: a trace id (32 hex characters) or the id of any run in the trace.
        since, until: only scan events in this window (faster on a large source).
        prices, text: as for `runs`.

    Returns:
        The `Trace`, its runs in depth-first order with `runs`' columns (empty if the id
        is not found).
    """
    src = open_source(source)
    window = Filters.of(since, until)
    parents = _parents(src, window)
    root = root_of(parents, trace_or_run_id.strip().lower())
    members = descendants(parents, root)
    con = connect()
    build_runs(con, src, Filters.of(since, until, run_id=members), price_table(prices), text=text)
    frame = depth_first(to_pandas(con.sql("SELECT * FROM runs").arrow()))
    con.close()
    return Trace(root.replace("-", ""), root, frame)


def _parents(src: Source, window: Filters) -> dict[str, str]:
    """Each run id's parent run id ("" for a root), from one scan of two columns."""
    con = connect()
    con.register("scanned", scan(src, ["run_id", "parent_run_id"], window))
    rows = con.sql(
        "SELECT DISTINCT run_id, coalesce(parent_run_id, '') FROM scanned WHERE run_id <> ''"
    ).fetchall()
    con.close()
    return dict(rows)


def root_of(parents: dict[str, str], wanted: str) -> str:
    """The root run id of the trace `wanted` names: a trace id (the root's id without
    dashes) or any member run's id. The root is the topmost parent, logged or not."""
    if _HEX32.match(wanted):
        return f"{wanted[:8]}-{wanted[8:12]}-{wanted[12:16]}-{wanted[16:20]}-{wanted[20:]}"
    node, seen = wanted, set()
    while parents.get(node) and node not in seen:
        seen.add(node)
        node = parents[node]
    return node


def descendants(parents: dict[str, str], root: str) -> list[str]:
    """`root` and every run below it."""
    kids: dict[str, list[str]] = {}
    for run, parent in parents.items():
        kids.setdefault(parent, []).append(run)
    found, todo = [], [root]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(kids.get(node, []))
    return found


def depth_first(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` ordered parent before children, siblings by start time."""
    frame = frame.sort_values(["start_time", "run_id"]).reset_index(drop=True)
    ids = set(frame["run_id"])
    kids: dict[str, list[int]] = {}
    for i, parent in enumerate(frame["parent_run_id"]):
        kids.setdefault(parent if parent in ids else "", []).append(i)
    order: list[int] = []
    stack = list(reversed(kids.get("", [])))
    while stack:
        i = stack.pop()
        order.append(i)
        stack.extend(reversed(kids.get(frame["run_id"].iloc[i], [])))
    return frame.iloc[order].reset_index(drop=True)
