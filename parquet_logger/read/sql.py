"""DuckDB connections for reads: an in-memory database with the macros the queries share."""

from __future__ import annotations

import duckdb

# JSON helpers over the payload (DuckDB's json extension is built into the Python wheel):
# a JSON value as text (a JSON string unquoted, anything else as its JSON text).
_MACROS = (
    "CREATE OR REPLACE TEMP MACRO json_text(x) AS "
    "CASE WHEN x IS NULL OR json_type(x) = 'NULL' THEN NULL "
    "WHEN json_type(x) = 'VARCHAR' THEN x ->> '$' ELSE x::VARCHAR END",
    # chat messages [[{type, content}, ...]] as "type: content" lines (the first prompt's)
    "CREATE OR REPLACE TEMP MACRO messages_text(x) AS "
    "array_to_string(list_transform(json_extract(x, '$[0][*]'), "
    "lambda m: coalesce(m ->> '$.type', '') || ': ' || coalesce(json_text(m -> '$.content'), '')), "
    "chr(10))",
    "CREATE OR REPLACE TEMP MACRO strings_text(x) AS "
    "array_to_string(json_extract_string(x, '$[*]'), chr(10))",
)


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection with the read macros defined."""
    # Results are ordered by the queries themselves: DuckDB need not keep scan order.
    con = duckdb.connect(":memory:", config={"preserve_insertion_order": False})
    for statement in _MACROS:
        con.execute(statement)
    return con
