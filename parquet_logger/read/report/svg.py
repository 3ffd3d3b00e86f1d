"""Charts drawn as inline SVG on the server: no JavaScript, no fonts or files to fetch.

Each function returns one `<svg>` element sized by its viewBox (it scales with the page) with
`<title>` tooltips on its marks. Times are UTC epoch seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_TIME_STEPS_S = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 172800, 604800,
)  # fmt: skip
Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """A named line of (time, value) points."""

    name: str
    color: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Box:
    """One row of a box plot: quantiles p5, p25, p50, p75, p95 and p99 of a distribution."""

    label: str
    color: str
    quantiles: tuple[float, float, float, float, float, float]
    count: int


@dataclass(frozen=True)
class Span:
    """One bar of a trace waterfall: offset and length in ms from the trace's start."""

    label: str
    depth: int
    start_ms: float
    duration_ms: float
    color: str
    detail: str


def compact(value: float) -> str:
    """1234 -> 1.2k, 5600000 -> 5.6M."""
    size = abs(value)
    for bound, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= bound:
            return f"{value / bound:.3g}{suffix}"
    return f"{value:.3g}" if size < 10 and value != int(value) else f"{value:,.0f}"


def dollars(value: float) -> str:
    """A cost: more decimals for small amounts."""
    if value == 0:
        return "$0"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    digits = -math.floor(math.log10(abs(value))) + 1  # two significant digits
    return f"${value:.{max(digits, 2)}f}"


def milliseconds(value: float) -> str:
    """A latency: ms below a second, s above."""
    if value >= 3_600_000:
        return f"{value / 3_600_000:.1f} h"
    if value >= 60_000:
        return f"{value / 60_000:.1f} min"
    if value >= 1000:
        return f"{value / 1000:.3g} s"
    return f"{value:.3g} ms"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(math.ceil((high - first) / step) + 1)]


def time_ticks(t0: float, t1: float, count: int = 6) -> tuple[list[float], str]:
    """Tick times (epoch s) on round UTC boundaries, and the strftime format to label them."""
    span = max(t1 - t0, 1.0)
    step = next((s for s in _TIME_STEPS_S if span / s <= count), _TIME_STEPS_S[-1])
    first = math.ceil(t0 / step) * step
    ticks = [float(first + i * step) for i in range(int((t1 - first) // step) + 1)]
    fmt = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%b %d"
    if span > 86400 and step < 86400:
        fmt = "%b %d %H:%M"
    return ticks, fmt


def _time_label(t: float, fmt: str) -> str:
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _legend(names: Sequence[tuple[str, str]], x: float, y: float, width: float) -> list[str]:
    out, cx, cy = [], x, y
    for name, color in names:
        text = name if len(name) <= 28 else name[:27] + "…"
        size = 18 + 6.6 * len(text)
        if cx + size > x + width:
            cx, cy = x, cy + 16
        out.append(
            f'<rect x="{cx:.1f}" y="{cy - 8:.1f}" width="10" height="10" rx="2" fill="{color}"/>'
            f'<text class="legend" x="{cx + 14:.1f}" y="{cy + 1:.1f}">{escape(text)}</text>'
        )
        cx += size + 12
    return out


def _legend_height(names: Sequence[tuple[str, str]], width: float) -> float:
    rows, cx = 1, 0.0
    for name, _ in names:
        size = 18 + 6.6 * min(len(name), 28) + 12
        if cx + size > width:
            rows, cx = rows + 1, 0.0
        cx += size
    return rows * 16 + 6


def line_chart(series: Sequence[Series], label: str, fmt: Format, width: int = 540) -> str:
    """Lines over time with markers, a y axis from 0 and a legend."""
    points = [p for s in series for p in s.points]
    if not points:
        return '<p class="empty">No data in this range.</p>'
    left, right, top = 58, 16, 10
    legend_h = _legend_height([(s.name, s.color) for s in series], width - left - right)
    height = int(220 + legend_h)
    plot_h = height - top - 26 - legend_h
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    if t1 == t0:
        t0, t1 = t0 - 30, t1 + 30
    yticks = nice_ticks(0, max(p[1] for p in points) or 1)
    ymax = yticks[-1]

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * (width - left - right)

    def y(v: float) -> float:
        return top + plot_h - v / ymax * plot_h

    body = _y_grid(yticks, y, left, width - right, fmt)
    body += _x_time_axis(t0, t1, x, top + plot_h)
    for s in series:
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s.points)
        body.append(
            f'<g class="series"><polyline points="{coords}" fill="none" stroke="{s.color}" '
            f'stroke-width="2" stroke-linejoin="round"/>'
        )
        for t, v in s.points:
            tip = f"{s.name} · {_time_label(t, '%Y-%m-%d %H:%M:%S')} UTC · {fmt(v)}"
            body.append(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.6" fill="{s.color}">'
                f"<title>{escape(tip)}</title></circle>"
            )
        body.append("</g>")
    body += _legend([(s.name, s.color) for s in series], left, height - legend_h + 10, width)
    return _svg(width, height, body, label)


def stacked_bars(
    buckets: Sequence[float],
    bucket_s: float,
    stacks: Sequence[tuple[str, str, Sequence[float]]],
    label: str,
    width: int = 540,
) -> str:
    """Bars per time bucket, stacked by category (name, color, a value per bucket)."""
    if not buckets or not stacks:
        return '<p class="empty">No errors in this range.</p>'
    left, right, top = 58, 16, 10
    legend_h = _legend_height([(n, c) for n, c, _ in stacks], width - left - right)
    height = int(200 + legend_h)
    plot_h = height - top - 26 - legend_h
    t0, t1 = min(buckets), max(buckets) + bucket_s
    if (t1 - t0) / bucket_s < 8:  # a few bars: keep them narrow, centred in some context
        pad = (8 * bucket_s - (t1 - t0)) / 2
        t0, t1 = t0 - pad, t1 + pad
    totals = [sum(values[i] for _, _, values in stacks) for i in range(len(buckets))]
    yticks = nice_ticks(0, max(totals) or 1)
    ymax = yticks[-1]

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * (width - left - right)

    def y(v: float) -> float:
        return top + plot_h - v / ymax * plot_h

    body = _y_grid(yticks, y, left, width - right, compact)
    body += _x_time_axis(t0, t1, x, top + plot_h)
    bar_w = max(1.5, (x(t0 + bucket_s) - x(t0)) * 0.8)
    body.append('<g class="series">')
    for i, start in enumerate(buckets):
        base = 0.0
        for name, color, values in stacks:
            value = values[i]
            if not value:
                continue
            tip = f"{name} · {_time_label(start, '%Y-%m-%d %H:%M:%S')} UTC · {value:,.0f}"
            body.append(
                f'<rect x="{x(start):.1f}" y="{y(base + value):.1f}" width="{bar_w:.1f}" '
                f'height="{y(base) - y(base + value):.1f}" fill="{color}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            base += value
    body.append("</g>")
    body += _legend([(n, c) for n, c, _ in stacks], left, height - legend_h + 10, width)
    return _svg(width, height, body, label)


def box_plots(boxes: Sequence[Box], label: str, width: int = 540) -> str:
    """Horizontal box plots (whiskers p5 to p95, box p25 to p75, median line, p99 tick) on a log
    axis when the values span more than 20 times."""
    if not boxes:
        return '<p class="empty">No finished LLM calls in this range.</p>'
    left, right, row_h, top = 130, 20, 34, 8
    height = top + row_h * len(boxes) + 30
    values = [v for b in boxes for v in b.quantiles if v > 0]
    low, high = (min(values), max(values)) if values else (1.0, 10.0)
    log = high / max(low, 1e-9) > 20
    if log:
        lo, hi = 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high))
        ticks = [10**e for e in range(int(math.log10(lo)), int(math.log10(hi)) + 1)]
    else:
        ticks = nice_ticks(0, high)
        lo, hi = 0.0, ticks[-1]

    def x(v: float) -> float:
        span = width - left - right
        if log:
            v = max(v, lo)
            return (
                left + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * span
            )
        return left + (v - lo) / (hi - lo) * span

    axis_y = top + row_h * len(boxes)
    body = []
    for t in ticks:
        body.append(
            f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{axis_y}"/>'
            f'<text class="tick" x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="middle">'
            f"{escape(milliseconds(t))}</text>"
        )
    body.append('<g class="series">')
    for i, b in enumerate(boxes):
        cy = top + row_h * i + row_h / 2
        p5, p25, p50, p75, p95, p99 = b.quantiles
        name = b.label if len(b.label) <= 19 else b.label[:18] + "…"
        tip = (
            f"{b.label} · {b.count:,} calls · p5 {milliseconds(p5)} · p25 {milliseconds(p25)}"
            f" · median {milliseconds(p50)} · p75 {milliseconds(p75)} · p95 {milliseconds(p95)}"
            f" · p99 {milliseconds(p99)}"
        )
        body.append(
            f'<text class="label" x="{left - 10}" y="{cy + 4:.1f}" text-anchor="end">'
            f"{escape(name)}</text><g><title>{escape(tip)}</title>"
            f'<line x1="{x(p5):.1f}" x2="{x(p95):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" '
            f'stroke="{b.color}" stroke-width="1.5"/>'
            f'<rect x="{x(p25):.1f}" y="{cy - 9:.1f}" width="{max(x(p75) - x(p25), 1.5):.1f}" '
            f'height="18" rx="3" fill="{b.color}" fill-opacity="0.35" stroke="{b.color}"/>'
            f'<line x1="{x(p50):.1f}" x2="{x(p50):.1f}" y1="{cy - 9:.1f}" y2="{cy + 9:.1f}" '
            f'stroke="{b.color}" stroke-width="3"/>'
            f'<line x1="{x(p99):.1f}" x2="{x(p99):.1f}" y1="{cy - 5:.1f}" y2="{cy + 5:.1f}" '
            f'stroke="{b.color}" stroke-width="1.5" stroke-dasharray="2 1"/></g>'
        )
    body.append("</g>")
    return _svg(width, height, body, label)


def waterfall(spans: Sequence[Span], total_ms: float, label: str, width: int = 1080) -> str:
    """A trace as a timeline: one bar per run, indented by depth, placed at its start."""
    left, right, row_h, top = 300, 90, 22, 4
    height = top + row_h * len(spans) + 26
    # Durations are measured by the process, the trace's span from timestamps: take the wider.
    total = max([total_ms, 1e-3, *(s.start_ms + s.duration_ms for s in spans)])

    def x(ms: float) -> float:
        return left + ms / total * (width - left - right)

    axis_y = top + row_h * len(spans)
    body = []
    for t in nice_ticks(0, total, 6):
        if t > total * 1.001:
            break
        body.append(
            f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{axis_y}"/>'
            f'<text class="tick" x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="middle">'
            f"{escape(milliseconds(t))}</text>"
        )
    body.append('<g class="series">')
    for i, span in enumerate(spans):
        cy = top + row_h * i
        color = span.color
        name = (
            span.label
            if len(span.label) <= 36 - span.depth
            else span.label[: 35 - span.depth] + "…"
        )
        bar_w = max(x(span.start_ms + span.duration_ms) - x(span.start_ms), 2)
        body.append(
            f"<g><title>{escape(span.detail)}</title>"
            f'<text class="label" x="{8 + 12 * span.depth}" y="{cy + 15}">{escape(name)}</text>'
            f'<rect x="{x(span.start_ms):.1f}" y="{cy + 4}" width="{bar_w:.1f}" height="14" '
            f'rx="2" fill="{color}"/>'
            f'<text class="tick" x="{x(span.start_ms) + bar_w + 6:.1f}" y="{cy + 15}">'
            f"{escape(milliseconds(span.duration_ms))}</text></g>"
        )
    body.append("</g>")
    return _svg(width, height, body, label)


def _y_grid(
    ticks: Sequence[float], y: Callable[[float], float], x0: float, x1: float, fmt: Format
) -> list[str]:
    return [
        f'<line class="grid" x1="{x0}" x2="{x1}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
        f'<text class="tick" x="{x0 - 8}" y="{y(t) + 4:.1f}" text-anchor="end">'
        f"{escape(fmt(t))}</text>"
        for t in ticks
    ]


def _x_time_axis(t0: float, t1: float, x: Callable[[float], float], y0: float) -> list[str]:
    ticks, fmt = time_ticks(t0, t1)
    out = [f'<line class="axis" x1="{x(t0):.1f}" x2="{x(t1):.1f}" y1="{y0:.1f}" y2="{y0:.1f}"/>']
    for t in ticks:
        out.append(
            f'<text class="tick" x="{x(t):.1f}" y="{y0 + 16:.1f}" text-anchor="middle">'
            f"{escape(_time_label(t, fmt))}</text>"
        )
    return out
