"""The report as one self-contained HTML page: inline CSS and SVG, no script, no link."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from importlib import resources
from typing import Any

from parquet_logger.read.report import svg
from parquet_logger.read.report.data import ModelRow, ReportData

DASH = "\u2013"  # an en dash: no value
FAILED = "#d1495b"
OTHER_RUN = "#a3acb9"


def render(data: ReportData, title: str, subtitle: str, prices_note: str) -> str:
    """The whole page."""
    colors = {m.model: svg.PALETTE[i % len(svg.PALETTE)] for i, m in enumerate(data.models)}
    css = resources.files("parquet_logger.read.report").joinpath("style.css").read_text()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{css}</style></head><body><main>",
        f'<header><div><h1>{escape(title)}</h1><div class="sub">{subtitle}</div></div>'
        f'<div class="sub">generated {generated}</div></header>',
        _kpis(data),
        _unpriced(data),
        _section("Models", _models_table(data.models, colors)),
        '<div class="grid2 row">',
        _section("Tokens over time", _usage_chart(data, colors, tokens=True), ""),
        _section("Cost over time", _usage_chart(data, colors, tokens=False), ""),
        "</div>",
        '<div class="grid2 row">',
        _section("Latency per model", _latency(data, colors), ""),
        _section("Errors by type over time", _errors_chart(data), ""),
        "</div>",
        _section("Slowest traces", _traces(data, colors)),
        _section("Custom ids that failed most", _failed(data)),
        f"<footer>{prices_note}</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _section(title: str, body: str, extra_class: str = "") -> str:
    return f'<section class="card {extra_class}"><h2>{escape(title)}</h2>{body}</section>'


def _kpi(name: str, value: str, detail: str = "", bad: bool = False) -> str:
    cls = "kpi bad" if bad else "kpi"
    return (
        f'<div class="{cls}"><div class="k">{escape(name)}</div><div class="v">{escape(value)}'
        f'</div><div class="d">{escape(detail)}</div></div>'
    )


def _kpis(data: ReportData) -> str:
    t = data.totals
    rate = f"{t.errors / t.runs:.1%} of runs" if t.runs else ""
    cost = svg.dollars(t.cost_usd) if t.cost_usd is not None else DASH
    cost_note = f"{t.unpriced_calls:,} calls unpriced" if t.unpriced_calls else "all calls priced"
    if t.first is not None and t.last is not None:
        first = datetime.fromtimestamp(t.first, UTC)
        span = svg.milliseconds((t.last - t.first) * 1000)
        when = first.strftime("%Y-%m-%d %H:%M")
    else:
        span, when = DASH, ""
    dropped = "unknown" if t.events_dropped is None else f"{t.events_dropped:,}"
    return (
        '<div class="kpis">'
        + "".join(
            [
                _kpi("Events", f"{t.events:,}"),
                _kpi("Runs", f"{t.runs:,}", f"{t.llm_calls:,} LLM calls"),
                _kpi("Errors", f"{t.errors:,}", rate, bad=t.errors > 0),
                _kpi(
                    "Tokens",
                    svg.compact(t.input_tokens + t.output_tokens),
                    f"{svg.compact(t.input_tokens)} in · {svg.compact(t.output_tokens)} out",
                ),
                _kpi("Cost", cost, cost_note),
                _kpi("Time span", span, f"from {when} UTC" if when else ""),
                _kpi("Dropped", dropped, "events the ring dropped", bad=bool(t.events_dropped)),
            ]
        )
        + "</div>"
    )


def _unpriced(data: ReportData) -> str:
    if not data.unpriced:
        return ""
    names = ", ".join(f"<code>{escape(m)}</code>" for m in data.unpriced)
    return (
        f'<div class="note"><b>Unpriced models:</b> {names}. Their calls have no cost '
        "(the price table does not know them); add them with your own price table "
        "(<code>--prices my-prices.json</code>).</div>"
    )


def _models_table(models: list[ModelRow], colors: dict[str, str]) -> str:
    if not models:
        return '<p class="empty">No LLM calls in this range.</p>'
    head = (
        "<tr><th>Model</th><th>Provider</th><th class=n>Calls</th><th class=n>Error rate</th>"
        "<th class=n>Tokens in</th><th class=n>Tokens out</th><th class=n>Cost</th>"
        "<th class=n>p50</th><th class=n>p95</th><th class=n>p99</th></tr>"
    )
    rows = []
    for m in models:
        rate = m.errors / m.calls if m.calls else 0.0
        pill = "pill bad" if m.errors else "pill"
        cost = (
            svg.dollars(m.cost_usd)
            if m.cost_usd is not None
            else '<span class="muted">unpriced</span>'
        )

        def ms(v: float | None) -> str:
            return svg.milliseconds(v) if v is not None else DASH

        rows.append(
            f'<tr><td><span class="dot" style="background:{colors[m.model]}"></span>'
            f"{escape(m.model)}</td><td>{escape(m.provider or DASH)}</td>"
            f'<td class=n>{m.calls:,}</td><td class=n><span class="{pill}">{rate:.1%}</span></td>'
            f"<td class=n>{m.input_tokens:,}</td><td class=n>{m.output_tokens:,}</td>"
            f"<td class=n>{cost}</td><td class=n>{ms(m.p50_ms)}</td><td class=n>{ms(m.p95_ms)}</td>"
            f"<td class=n>{ms(m.p99_ms)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _usage_chart(data: ReportData, colors: dict[str, str], tokens: bool) -> str:
    by_model: dict[str, list[tuple[float, float]]] = {}
    for bucket, model, n_tokens, cost in data.usage:
        value = float(n_tokens) if tokens else cost
        if value is None:
            continue
        by_model.setdefault(model, []).append((bucket, value))
    series = [
        svg.Series(model, colors.get(model, svg.PALETTE[-1]), points)
        for model, points in by_model.items()
        if tokens or any(v for _, v in points)
    ]
    if not series and not tokens:
        return '<p class="empty">No priced calls in this range.</p>'
    width = svg.milliseconds(data.bucket_s * 1000)
    label = f"{'tokens' if tokens else 'cost'} per {width}"
    chart = svg.line_chart(series, label, svg.compact if tokens else svg.dollars)
    return f'<div class="sub">{escape(label)}, per model</div>{chart}'


def _latency(data: ReportData, colors: dict[str, str]) -> str:
    boxes = [
        svg.Box(m.model, colors[m.model], m.quantiles, m.finished)
        for m in data.models
        if m.quantiles is not None
    ]
    legend = "box p25 to p75, bar median, whiskers p5 to p95, dashed tick p99"
    return f'<div class="sub">{legend}</div>' + svg.box_plots(boxes, "latency per model")


def _errors_chart(data: ReportData) -> str:
    if not data.errors:
        return '<p class="empty">No errors in this range.</p>'
    buckets = sorted({b for b, _, _ in data.errors})
    types = sorted({e for _, e, _ in data.errors})
    index = {b: i for i, b in enumerate(buckets)}
    stacks = []
    for n, error_type in enumerate(types):
        values = [0.0] * len(buckets)
        for bucket, e, count in data.errors:
            if e == error_type:
                values[index[bucket]] = count
        short = error_type.rsplit(".", 1)[-1]
        stacks.append((short, svg.PALETTE[(n + 3) % len(svg.PALETTE)], values))
    width = svg.milliseconds(data.bucket_s * 1000)
    chart = svg.stacked_bars(buckets, data.bucket_s, stacks, "errors by type")
    return f'<div class="sub">where errors started, per {escape(width)}</div>{chart}'


def _traces(data: ReportData, colors: dict[str, str]) -> str:
    if not data.slow_traces:
        return '<p class="empty">No runs in this range.</p>'
    out = []
    for tr in data.slow_traces:
        spans = [_span(row, colors) for row in tr["members"]]
        chart = svg.waterfall(spans, tr["span_ms"], f"trace {tr['trace_id']}")
        badges = [f'<span class="pill">{tr["runs"]} runs</span>']
        if tr["failed"]:
            badges.append(f'<span class="pill bad">{tr["failed"]} failed</span>')
        if tr["cost_usd"] is not None:
            badges.append(f'<span class="pill">{svg.dollars(tr["cost_usd"])}</span>')
        custom = f" · custom id <code>{escape(tr['custom_id'])}</code>" if tr["custom_id"] else ""
        more = "" if tr["runs"] <= len(spans) else f" (first {len(spans)} runs shown)"
        out.append(
            '<div class="row"><div class="trace-head"><div>'
            f'<span class="t">{escape(tr["name"] or "(root not logged)")}</span> '
            f'<span class="muted">{escape(svg.milliseconds(tr["span_ms"]))}{custom}{more}</span>'
            f"</div><div>{' '.join(badges)}</div></div>{chart}"
            f"<details><summary>trace id {escape(tr['trace_id'])}: as text</summary>"
            f"<pre>{escape(_tree_text(tr['members']))}</pre></details></div>"
        )
    return "".join(out)


def _span(row: tuple[Any, ...], colors: dict[str, str]) -> svg.Span:
    """A waterfall bar: red if the run failed, its model's colour for a model call, grey
    for chains and tools."""
    (_, _, depth, name, run_type, status, start_ms, duration_ms, model, tin, tout, cost, err) = row
    label = f"{name or '?'}" + (f" · {model}" if model else "")
    detail = [f"{name} [{run_type}] {status}", svg.milliseconds(duration_ms or 0)]
    if tin is not None or tout is not None:
        detail.append(f"{tin or 0} → {tout or 0} tokens")
    if cost is not None:
        detail.append(svg.dollars(cost))
    if err:
        detail.append(err)
    color = FAILED if status == "error" else colors.get(model, OTHER_RUN)
    return svg.Span(label, int(depth or 0), float(start_ms or 0), float(duration_ms or 0),
                    color, " · ".join(detail))  # fmt: skip


def _tree_text(members: list[tuple[Any, ...]]) -> str:
    lines = []
    for row in members:
        span = _span(row, {})
        lines.append("  " * span.depth + span.detail)
    return "\n".join(lines)


def _failed(data: ReportData) -> str:
    if not data.failed_ids:
        return '<p class="empty">No failed runs carry a custom id.</p>'
    head = (
        "<tr><th>Custom id</th><th class=n>Traces</th><th class=n>Failed runs</th>"
        "<th>Error types</th><th>Last error</th></tr>"
    )
    rows = [
        f"<tr><td><code>{escape(cid)}</code></td><td class=n>{traces:,}</td>"
        f'<td class=n><span class="pill bad">{failed:,}</span></td>'
        f'<td>{escape(types)}</td><td><div class="msg" title="{escape(msg or "")}">'
        f"{escape((msg or '').splitlines()[0] if msg else '')}</div></td></tr>"
        for cid, traces, failed, types, msg in data.failed_ids
    ]
    return f"<table>{head}{''.join(rows)}</table>"
