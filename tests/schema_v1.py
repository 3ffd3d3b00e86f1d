"""Part files as a schema-version-1 writer wrote them (the package before the GenAI
columns), made from rows a logger of today wrote: the first twenty columns less the folder's
hive keys, `schema_version` 1, version 1's schema metadata and LangChain's provider names."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from parquet_logger.columns import SCHEMA_1_COLUMN_NAMES

# gen_ai.provider.name -> what a version-1 file holds (metadata["ls_provider"])
LANGCHAIN_PROVIDERS = {"aws.bedrock": "amazon_bedrock", "azure.ai.openai": "azure"}


def rewrite_as_version_1(path: Path, stamp: str = "20200101T000000000000Z") -> Path:
    """Replace the part file at `path` by its rows in schema version 1, under a name that
    sorts before every file a writer of today names (readers then take its schema)."""
    table = pq.read_table(path)
    names = [n for n in SCHEMA_1_COLUMN_NAMES if n in table.column_names]
    old = table.select(names)
    version = pa.array([1] * old.num_rows, pa.int16())
    old = old.set_column(names.index("schema_version"), "schema_version", version)
    provider = old.column("provider")
    for new, langchain in LANGCHAIN_PROVIDERS.items():
        provider = pc.if_else(pc.equal(provider, new), langchain, provider)
    old = old.set_column(names.index("provider"), "provider", provider)
    old = old.replace_schema_metadata({"parquet_logger.schema_version": "1"})
    target = path.with_name(f"part-{stamp}-{path.name.split('-', 2)[2]}")
    pq.write_table(old, target, compression="zstd")
    path.unlink()
    return target
