"""One row per run: its start joined with its end or error, in one streaming pass.

DuckDB aggregates the scanned events by run id (the payload is parsed once per start, end
and error event, and only the few fields a run row shows are kept), then walks
`parent_run_id` up to each run's root for its trace, and prices its tokens. The columns of
schema version 2 (trace_id, operation, request/response model, cache and reasoning tokens,
time to first token, start time) are read from the files that have them and derived, the
same way the producer derives them, for the rows of schema-1 files (nulls in those columns).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from parquet_logger.capture.genai_names import AGENT_CHAIN_NAMES, OPERATIONS, PROVIDER_NAMES
from parquet_logger.columns import SCHEMA_1_COLUMN_NAMES
from parquet_logger.read.cost import PriceSource, PriceTable, cost_sql, price_table
from parquet_logger.read.frames import to_pandas
from parquet_logger.read.scan import Filters, TimeLike, scan
from parquet_logger.read.source import Source, SourceLike, open_source
from parquet_logger.read.sql import connect

# The columns of every log (schema version 1) that a run row needs.
BASE_COLUMNS = tuple(
    name
    for name in SCHEMA_1_COLUMN_NAMES
    if name not in ("logger_metadata", "event_id", "schema_version")
)
# Typed columns a newer schema adds, each used instead of its derivation when present.
TYPED_TOKEN_COLUMNS = (
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_output_tokens",
)
TYPED_TEXT_COLUMNS = ("trace_id", "root_run_id", "operation", "request_model", "response_model")
TYPED_TIME_COLUMNS = ("time_to_first_token_ms", "start_time")

# Paths read out of the payload of start, end and error events (one JSON parse per event).
_PATHS = (
    "$.execution.tags",  # 1
    "$.data.messages",  # 2 chat model start
    "$.data.prompts",  # 3 llm start
    "$.data.inputs",  # 4 chain / tool start
    "$.data.input_str",  # 5 tool start
    "$.data.query",  # 6 retriever start
    "$.data.text",  # 7 llm end (older layout)
    "$.data.outputs",  # 8 chain end
    "$.data.output",  # 9 tool end
    "$.data.documents",  # 10 retriever end
    "$.data.error.message",  # 11 error
    "$.raw.response.generations[0][0].message.usage_metadata",  # 12 token details
    "$.data.llm_output.token_usage",  # 13 OpenAI-style usage details (older layout)
    "$.data.response.generations[0][0].text",  # 14 llm end
    "$.data.usage",  # 15 OpenAI-style usage details: llm_output["token_usage"] as given
)


RUN_COLUMNS = (
    "run_id",
    "parent_run_id",
    "trace_id",
    "root_run_id",
    "depth",
    "run_type",
    "operation",
    "name",
    "status",
    "start_time",
    "end_time",
    "duration_ms",
    "time_to_first_token_ms",
    "custom_id",
    "tags",
    "model",
    "request_model",
    "response_model",
    "provider",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_output_tokens",
    "cost_usd",
    "priced_as",
    "error_type",
    "error_message",
    "input_text",
    "output_text",
    "events",
    "retries",
    "host",
    "pid",
)


def runs(
    source: SourceLike,
    *,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
    custom_id: str | Sequence[str] | None = None,
    run_id: str | Sequence[str] | None = None,
    run_types: str | Sequence[str] | None = None,
    prices: PriceSource = None,
    batch_api: bool = False,
    text: bool = True,
    max_text_chars: int | None = 2000,
    progress: bool = False,
) -> pd.DataFrame:
    """One row per run (LLM call, chain, tool, retriever, ...), oldest first.

    Args:
        source: a log directory, an `s3://bucket/prefix`, or an opened `Source`.
        since, until: keep events in [since, until) (UTC; naive times are UTC).
        custom_id, run_id: keep these custom ids / run ids only.
        run_types: keep these run types only (`chat_model`, `llm`, `chain`, `tool`, ...).
        prices: a `PriceTable`, or your own prices (a mapping or a JSON file in the shipped
            table's format) on top of the shipped table; None: the shipped table.
        batch_api: price the runs at the batch API's discount.
        text: include `input_text` and `output_text`.
        max_text_chars: cut those texts to this many characters (None: whole).
        progress: show a progress bar while the source is scanned.

    Returns:
        A DataFrame with `RUN_COLUMNS`: `status` is `ok`, `error` or `unfinished` (no end
        event in the data read); `cost_usd` is null for a model the price table does not
        know, and those models are listed in `df.attrs["unpriced_models"]`.
    """
    src = open_source(source)
    filters = Filters.of(since, until, custom_id=custom_id, run_id=run_id)
    con = connect()
    table = price_table(prices)
    build_runs(con, src, filters, table, batch_api, text, max_text_chars, progress)
    where = ""
    if run_types is not None:
        kinds = [run_types] if isinstance(run_types, str) else list(run_types)
        con.register("wanted_run_types", pa.table({"t": pa.array(kinds, pa.string())}))
        where = "WHERE run_type IN (SELECT t FROM wanted_run_types)"
    result = con.sql(f"SELECT * FROM runs {where} ORDER BY start_time, run_id").arrow()
    frame = to_pandas(result)
    frame.attrs["unpriced_models"] = unpriced_models(con)
    con.close()
    return frame


def build_runs(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    filters: Filters,
    prices: PriceTable,
    batch_api: bool = False,
    text: bool = True,
    max_text_chars: int | None = 2000,
    progress: bool = False,
) -> None:
    """Scan `src` once and create, in `con`: `run_rows` (one row per run id, and one with
    run id "" for events outside any run), `runs` (the run rows with trace, cost and the
    public columns) and `model_prices`."""
    schema = src.schema()
    wanted = (*TYPED_TOKEN_COLUMNS, *TYPED_TEXT_COLUMNS, *TYPED_TIME_COLUMNS)
    typed = [c for c in wanted if c in schema.names]
    reader = scan(src, [*BASE_COLUMNS, *typed], filters, progress=progress)
    con.register("scanned", reader)
    con.execute(f"CREATE TEMP TABLE run_rows AS {_aggregate_sql(typed, text, max_text_chars)}")
    con.unregister("scanned")
    models = con.sql("SELECT DISTINCT model FROM run_rows WHERE model IS NOT NULL").fetchall()
    con.register("model_prices", prices.frame(m for (m,) in models))
    con.execute(f"CREATE TEMP VIEW runs AS {_runs_sql(batch_api)}")


def unpriced_models(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Models with token counts in `runs` that the price table does not know."""
    rows = con.sql(
        "SELECT DISTINCT model FROM runs WHERE priced_as IS NULL AND model IS NOT NULL "
        "AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL) ORDER BY model"
    ).fetchall()
    return [model for (model,) in rows]


def _aggregate_sql(typed: list[str], text: bool, max_text_chars: int | None) -> str:
    paths = ", ".join(f"'{p}'" for p in _PATHS)

    def cut(expr: str) -> str:
        return f"left({expr}, {int(max_text_chars)})" if max_text_chars is not None else expr

    input_text = cut(
        "coalesce(messages_text(j[2]), strings_text(j[3]), json_text(j[5]), json_text(j[6]), "
        "json_text(j[4]))"
    )
    output_text = cut(
        "coalesce(json_text(j[14]), json_text(j[7]), json_text(j[8]), json_text(j[9]), "
        "j[10]::VARCHAR)"
    )
    # Computed per event only where needed (CASE evaluates its branch for those rows only).
    event_texts = (
        f"CASE WHEN kind = 's' THEN {input_text} END AS input_text,\n"
        f"    CASE WHEN kind = 'e' THEN {output_text} END AS output_text"
        if text
        else "NULL::VARCHAR AS input_text, NULL::VARCHAR AS output_text"
    )

    def detail(column: str, usage_path: str, openai_path: str) -> str:
        derived = (
            f"sum(coalesce(TRY_CAST(j[12] ->> '{usage_path}' AS BIGINT), "
            f"TRY_CAST(coalesce(j[15], j[13]) ->> '{openai_path}' AS BIGINT))) "
            "FILTER (kind = 'e')"
        )
        summed = f"coalesce(sum({column}), {derived})" if column in typed else derived
        return f"({summed})::BIGINT"

    def or_stored(derived: str, column: str, aggregate: str) -> str:
        """`derived`, else (in files that have it) the stored column's end/error value."""
        if column not in typed:
            return derived
        return f"coalesce({derived}, {aggregate}({column}) FILTER (kind IN ('e', 'x')))"

    def text_column(column: str, fallback: str) -> str:
        return f"coalesce(max({column}), {fallback})" if column in typed else fallback

    return f"""
WITH kinds AS (
  SELECT *,
    CASE WHEN suffix(event_type, '_start') THEN 's' WHEN suffix(event_type, '_end') THEN 'e'
         WHEN suffix(event_type, '_error') THEN 'x' END AS kind
  FROM scanned
),
parsed AS (
  SELECT * EXCLUDE (payload),
    CASE WHEN kind IS NOT NULL THEN json_extract(payload, [{paths}]) END AS j
  FROM kinds
),
ev AS (
  SELECT *, {event_texts} FROM parsed
)
SELECT
  run_id,
  count(*) AS events,
  count(*) FILTER (event_type = 'retry') AS retries,
  max(parent_run_id) AS parent_run_id,
  max(custom_id) AS custom_id,
  max(run_type) AS run_type,
  max(name) AS name,
  {text_column("request_model", "max(model) FILTER (kind = 's')")} AS request_model,
  {text_column("response_model", "max(model) FILTER (kind IN ('e', 'x'))")} AS response_model,
  {text_column("trace_id", "NULL::VARCHAR")} AS stored_trace_id,
  {text_column("root_run_id", "NULL::VARCHAR")} AS stored_root_run_id,
  {text_column("operation", "NULL::VARCHAR")} AS stored_operation,
  {_provider_sql("max(provider)")} AS provider,
  {or_stored("min(timestamp) FILTER (kind = 's')", "start_time", "min")} AS start_time,
  max(timestamp) FILTER (kind IN ('e', 'x')) AS end_time,
  min(timestamp) AS first_seen,
  min(timestamp) FILTER (event_type = 'llm_new_token') AS first_token_time,
  {or_stored("NULL::DOUBLE", "time_to_first_token_ms", "max")} AS stored_ttft_ms,
  CASE WHEN bool_or(kind = 'x') THEN 'error' WHEN bool_or(kind = 'e') THEN 'ok'
       ELSE 'unfinished' END AS status,
  max(latency_ms) FILTER (kind IN ('e', 'x')) AS latency_ms,
  sum(input_tokens)::BIGINT AS input_tokens,
  sum(output_tokens)::BIGINT AS output_tokens,
  sum(total_tokens)::BIGINT AS total_tokens,
  {
        detail(
            "cache_read_input_tokens",
            "$.input_token_details.cache_read",
            "$.prompt_tokens_details.cached_tokens",
        )
    } AS cache_read_input_tokens,
  {
        detail(
            "cache_creation_input_tokens",
            "$.input_token_details.cache_creation",
            "$.prompt_tokens_details.cache_creation_tokens",
        )
    } AS cache_creation_input_tokens,
  {
        detail(
            "reasoning_output_tokens",
            "$.output_token_details.reasoning",
            "$.completion_tokens_details.reasoning_tokens",
        )
    } AS reasoning_output_tokens,
  max(error_type) AS error_type,
  any_value(j[11] ->> '$') FILTER (kind = 'x') AS error_message,
  any_value(CAST(j[1] AS VARCHAR[])) FILTER (kind = 's') AS tags,
  any_value(input_text) AS input_text,
  any_value(output_text) AS output_text,
  max(host) AS host,
  max(pid) AS pid,
  coalesce(max(model) FILTER (kind IN ('e', 'x')), max(model)) AS model
FROM ev
GROUP BY run_id
"""


def _provider_sql(expr: str) -> str:
    """A provider as a gen_ai.provider.name (schema-1 files hold LangChain's names; the
    canonical names map to themselves)."""
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sorted(PROVIDER_NAMES.items()))
    return f"CASE lower({expr}) {cases} ELSE {expr} END"


def _runs_sql(batch_api: bool) -> str:
    operations = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in OPERATIONS.items())
    agents = ", ".join(f"'{name}'" for name in sorted(AGENT_CHAIN_NAMES))
    return f"""
WITH RECURSIVE
known AS (SELECT run_id, parent_run_id FROM run_rows WHERE run_id <> ''),
-- the top known runs: a root (no parent), or a run whose parent was not logged; the latter's
-- trace is rooted at the missing parent, so the siblings under it share one trace
walk(run_id, root_run_id, depth) AS (
  SELECT k.run_id,
         CASE WHEN coalesce(k.parent_run_id, '') = '' THEN k.run_id ELSE k.parent_run_id END,
         CASE WHEN coalesce(k.parent_run_id, '') = '' THEN 0 ELSE 1 END
  FROM known k
  WHERE coalesce(k.parent_run_id, '') = ''
     OR k.parent_run_id NOT IN (SELECT run_id FROM known)
  UNION ALL
  SELECT c.run_id, w.root_run_id, w.depth + 1
  FROM known c JOIN walk w ON c.parent_run_id = w.run_id
)
SELECT
  r.run_id,
  nullif(r.parent_run_id, '') AS parent_run_id,
  coalesce(r.stored_trace_id, replace(coalesce(w.root_run_id, r.run_id), '-', '')) AS trace_id,
  coalesce(r.stored_root_run_id, w.root_run_id, r.run_id) AS root_run_id,
  coalesce(w.depth, 0)::INTEGER AS depth,
  r.run_type,
  coalesce(
    r.stored_operation,
    CASE r.run_type {operations}
      WHEN 'chain' THEN CASE WHEN r.name IN ({agents}) THEN 'invoke_agent'
                             WHEN coalesce(r.parent_run_id, '') = '' THEN 'invoke_workflow' END
    END
  ) AS operation,
  r.name,
  r.status,
  coalesce(r.start_time, r.first_seen) AS start_time,
  r.end_time,
  coalesce(r.latency_ms,
           epoch_us(r.end_time) / 1000.0 - epoch_us(r.start_time) / 1000.0) AS duration_ms,
  coalesce(r.stored_ttft_ms,
           epoch_us(r.first_token_time) / 1000.0 - epoch_us(r.start_time) / 1000.0)
    AS time_to_first_token_ms,
  nullif(r.custom_id, '') AS custom_id,
  r.tags,
  r.model,
  r.request_model,
  r.response_model,
  r.provider,
  r.input_tokens,
  r.output_tokens,
  r.total_tokens,
  r.cache_read_input_tokens,
  r.cache_creation_input_tokens,
  r.reasoning_output_tokens,
  {cost_sql(batch_api)} AS cost_usd,
  p.price_entry AS priced_as,
  r.error_type,
  r.error_message,
  r.input_text,
  r.output_text,
  r.events,
  r.retries,
  r.host,
  r.pid
FROM run_rows r
LEFT JOIN walk w USING (run_id)
LEFT JOIN model_prices p ON p.model = r.model
WHERE r.run_id <> ''
"""
