"""The report's figures, queried from the `runs` table that one scan of the source built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from parquet_logger.read.runs import unpriced_models

# Runs that are model calls (the per-model figures count these).
LLM_RUN = "(run_type IN ('llm', 'chat_model') OR model IS NOT NULL)"
# An error run none of whose children failed: where the error started (a chain around a
# failed LLM call fails too, and would count the same error twice).
ORIGIN_ERROR = (
    "status = 'error' AND run_id NOT IN "
    "(SELECT parent_run_id FROM runs WHERE status = 'error' AND parent_run_id IS NOT NULL)"
)
_BUCKETS_S = (1, 5, 15, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BUCKETS = 60


@dataclass(frozen=True)
class Totals:
    events: int
    runs: int
    llm_calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    unpriced_calls: int
    first: float | None
    last: float | None
    events_dropped: int | None


@dataclass(frozen=True)
class ModelRow:
    model: str
    provider: str | None
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    priced_as: str | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    quantiles: tuple[float, float, float, float, float, float] | None
    finished: int


@dataclass(frozen=True)
class ReportData:
    totals: Totals
    models: list[ModelRow]
    bucket_s: int
    # (bucket start epoch s, model, input+output tokens, cost)
    usage: list[tuple[float, str, int, float | None]]
    # (bucket start epoch s, error type, count)
    errors: list[tuple[float, str, int]]
    # one dict per slow trace: its root row and its runs
    slow_traces: list[dict[str, Any]]
    # (custom id, runs, failed runs, error types, last error message)
    failed_ids: list[tuple[str, int, int, str, str | None]]
    unpriced: list[str]


def gather(
    con: duckdb.DuckDBPyConnection, events_dropped: int | None, n_traces: int = 5
) -> ReportData:
    """Every figure of the report from `runs` and `run_rows` in `con`."""
    totals = _totals(con, events_dropped)
    span = (totals.last or 0) - (totals.first or 0)
    bucket_s = next((b for b in _BUCKETS_S if span / b <= MAX_BUCKETS), _BUCKETS_S[-1])
    return ReportData(
        totals=totals,
        models=_models(con),
        bucket_s=bucket_s,
        usage=_usage(con, bucket_s),
        errors=_errors(con, bucket_s),
        slow_traces=_slow_traces(con, n_traces),
        failed_ids=_failed_ids(con),
        unpriced=unpriced_models(con),
    )


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    rows = con.execute(sql).fetchall()  # an aggregate without GROUP BY: exactly one row
    return tuple(rows[0])


def _totals(con: duckdb.DuckDBPyConnection, events_dropped: int | None) -> Totals:
    (events,) = _one(con, "SELECT coalesce(sum(events), 0) FROM run_rows")
    row = _one(
        con,
        f"""SELECT count(*), count(*) FILTER ({LLM_RUN}), count(*) FILTER ({ORIGIN_ERROR}),
        coalesce(sum(input_tokens) FILTER ({LLM_RUN}), 0)::BIGINT,
        coalesce(sum(output_tokens) FILTER ({LLM_RUN}), 0)::BIGINT,
        sum(cost_usd), count(*) FILTER ({LLM_RUN} AND cost_usd IS NULL
                                         AND (input_tokens IS NOT NULL
                                              OR output_tokens IS NOT NULL)),
        epoch(min(start_time)), epoch(max(coalesce(end_time, start_time)))
        FROM runs""",
    )
    runs, llm_calls, errors, tin, tout, cost, unpriced, first, last = row
    return Totals(
        int(events), runs, llm_calls, errors, tin, tout, cost, unpriced, first, last,
        events_dropped,
    )  # fmt: skip


def _models(con: duckdb.DuckDBPyConnection) -> list[ModelRow]:
    rows = con.sql(
        f"""SELECT coalesce(model, '(unknown model)') AS m, max(provider), count(*),
        count(*) FILTER (status = 'error'),
        coalesce(sum(input_tokens), 0)::BIGINT, coalesce(sum(output_tokens), 0)::BIGINT,
        sum(cost_usd), max(priced_as),
        quantile_cont(duration_ms, [0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
            FILTER (status = 'ok'),
        count(*) FILTER (status = 'ok' AND duration_ms IS NOT NULL)
        FROM runs WHERE {LLM_RUN} GROUP BY m ORDER BY count(*) DESC, m"""
    ).fetchall()
    out = []
    for m, provider, calls, errors, tin, tout, cost, priced, q, finished in rows:
        quantiles = (q[0], q[1], q[2], q[3], q[4], q[5]) if q else None
        out.append(
            ModelRow(
                m, provider, calls, errors, tin, tout, cost, priced,
                q[2] if q else None, q[4] if q else None, q[5] if q else None,
                quantiles, finished,
            )
        )  # fmt: skip
    return out


def _usage(
    con: duckdb.DuckDBPyConnection, bucket_s: int
) -> list[tuple[float, str, int, float | None]]:
    rows = con.sql(
        f"""SELECT epoch(time_bucket(INTERVAL {bucket_s} SECOND, start_time)) AS b,
        coalesce(model, '(unknown model)') AS m,
        (coalesce(sum(input_tokens), 0) + coalesce(sum(output_tokens), 0))::BIGINT,
        sum(cost_usd)
        FROM runs WHERE {LLM_RUN} GROUP BY b, m ORDER BY b, m"""
    ).fetchall()
    return [(float(b), m, int(t), c) for b, m, t, c in rows]


def _errors(con: duckdb.DuckDBPyConnection, bucket_s: int) -> list[tuple[float, str, int]]:
    rows = con.sql(
        f"""SELECT epoch(time_bucket(INTERVAL {bucket_s} SECOND, start_time)) AS b,
        coalesce(error_type, 'unknown') AS e, count(*)
        FROM runs WHERE {ORIGIN_ERROR} GROUP BY b, e ORDER BY b, e"""
    ).fetchall()
    return [(float(b), e, int(n)) for b, e, n in rows]


def _slow_traces(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    traces = con.sql(
        f"""SELECT trace_id, min(start_time) AS t0,
        epoch_us(max(coalesce(end_time, start_time))) / 1000.0 - epoch_us(min(start_time)) / 1000.0
            AS span_ms,
        count(*) AS n, count(*) FILTER (status = 'error') AS failed,
        arg_min(name, depth) AS top_name, max(custom_id) AS custom_id, sum(cost_usd) AS cost
        FROM runs GROUP BY trace_id ORDER BY span_ms DESC NULLS LAST LIMIT {int(limit)}"""
    ).fetchall()
    out = []
    for trace_id, t0, span_ms, n, failed, top_name, custom_id, cost in traces:
        members = con.execute(
            """SELECT run_id, parent_run_id, depth, name, run_type, status,
            epoch_us(start_time) / 1000.0 - epoch_us($t0::TIMESTAMPTZ) / 1000.0, duration_ms,
            model, input_tokens, output_tokens, cost_usd, error_type
            FROM runs WHERE trace_id = $id ORDER BY start_time, run_id LIMIT 60""",
            {"id": trace_id, "t0": t0},
        ).fetchall()
        out.append(
            {
                "trace_id": trace_id,
                "span_ms": span_ms or 0.0,
                "runs": n,
                "failed": failed,
                "name": top_name,
                "custom_id": custom_id,
                "cost_usd": cost,
                "members": members,
            }
        )
    return out


def _failed_ids(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int, str, str | None]]:
    rows = con.sql(
        f"""SELECT custom_id, count(DISTINCT trace_id), count(*) FILTER ({ORIGIN_ERROR}) AS failed,
        string_agg(DISTINCT error_type, ', ') FILTER ({ORIGIN_ERROR}),
        arg_max(error_message, end_time) FILTER ({ORIGIN_ERROR})
        FROM runs WHERE custom_id IS NOT NULL GROUP BY custom_id
        HAVING failed > 0 ORDER BY failed DESC, custom_id LIMIT 15"""
    ).fetchall()
    return [(c, int(t), int(f), e or "", m) for c, t, f, e, m in rows]
