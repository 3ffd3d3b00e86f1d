"""Token prices: the table shipped with the package (prices.json), the user's own on top, and
the model-name matching that finds a model's entry — exactly, never by a guessed likeness.

Prices are USD per 1M tokens. A model the table does not know has no price: its runs get a
null cost and it is listed as unpriced, never costed with another model's price.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import pyarrow as pa

_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write", "reasoning")
# A release date at the end of a model name: gpt-4o-2024-08-06, claude-...-20250514, @20240229.
_DATE_SUFFIX = re.compile(r"([-@]\d{4}-\d{2}-\d{2}|[-@]\d{8})$")


@dataclass(frozen=True)
class ModelPrice:
    """One model's prices in USD per 1M tokens. `cached_input` (cache reads), `cache_write`
    (cache creation) and `reasoning` default to the input or output price when absent; a model
    without an `output` price (an embedding model) is priced only for runs without output;
    `batch_discount` is the batch API's fraction off (0.5: half price)."""

    input: float
    output: float | None = None
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    batch_discount: float | None = None
    provider: str | None = None

    def __post_init__(self) -> None:
        for name in _PRICE_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"price {name} must be a number >= 0, got {value!r}")
        discount = self.batch_discount
        if discount is not None and not (isinstance(discount, int | float) and 0 <= discount < 1):
            raise ValueError(f"batch_discount must be in [0, 1), got {discount!r}")

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> ModelPrice:
        """From a table entry; `input` is required."""
        if "input" not in entry:
            raise ValueError(f"a price entry needs an input price: {dict(entry)}")
        known = {f: entry[f] for f in (*_PRICE_FIELDS, "batch_discount", "provider") if f in entry}
        return cls(**known)


@dataclass(frozen=True)
class PriceTable:
    """Prices by model name, with where they came from and when they were checked."""

    models: Mapping[str, ModelPrice]
    checked: str | None = None
    source: str | None = None
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {name.lower(): name for name in self.models})

    @classmethod
    def default(cls) -> PriceTable:
        """The table shipped with the package."""
        text = resources.files("parquet_logger.read").joinpath("prices.json").read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> PriceTable:
        """From `{"models": {name: {input, output, ...}}, "checked", "source"}`, or from a
        plain `{name: {input, output, ...}}` mapping."""
        models = table.get("models", table)
        if not isinstance(models, Mapping):
            raise ValueError("a price table's models must be a mapping of name to prices")
        parsed = {str(name): ModelPrice.of(entry) for name, entry in models.items()}
        return cls(parsed, table.get("checked"), table.get("source"))

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> PriceTable:
        """From a JSON file in the shipped table's format."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def updated(self, other: PriceTable) -> PriceTable:
        """This table with `other`'s entries added, replacing same-named ones."""
        merged = {**self.models, **other.models}
        return PriceTable(merged, other.checked or self.checked, other.source or self.source)

    def lookup(self, model: str | None) -> tuple[str, ModelPrice] | None:
        """The entry (its name and prices) for `model`: an exact, case-insensitive match of the
        name, of it without a `provider/` prefix, or of either without a release date."""
        if not model:
            return None
        for candidate in _candidates(model):
            name = self._index.get(candidate.lower())
            if name is not None:
                return name, self.models[name]
        return None

    def frame(self, models: Iterable[str]) -> pa.Table:
        """An Arrow table with one row per model name given and its prices (nulls when
        unpriced), for a SQL join."""
        names = sorted({m for m in models if m})
        rows: dict[str, list[Any]] = {"model": [], "price_entry": []}
        rows.update({f"price_{f}": [] for f in (*_PRICE_FIELDS, "batch_discount")})
        for model in names:
            hit = self.lookup(model)
            rows["model"].append(model)
            rows["price_entry"].append(hit[0] if hit else None)
            for f in (*_PRICE_FIELDS, "batch_discount"):
                rows[f"price_{f}"].append(getattr(hit[1], f) if hit else None)
        types = {"model": pa.string(), "price_entry": pa.string()}
        return pa.table({k: pa.array(v, types.get(k, pa.float64())) for k, v in rows.items()})


def _candidates(model: str) -> list[str]:
    names = [model.strip()]
    if "/" in names[0]:
        names.append(names[0].rsplit("/", 1)[1])
    for name in list(names):
        undated = _DATE_SUFFIX.sub("", name)
        if undated != name:
            names.append(undated)
    return names


PriceSource = PriceTable | Mapping[str, Any] | str | PathLike[str] | None


def price_table(prices: PriceSource) -> PriceTable:
    """The table a read uses: the shipped one (None), or the user's on top of it (a
    `PriceTable` is used as it is; a mapping or a JSON file adds to the shipped table)."""
    if prices is None:
        return PriceTable.default()
    if isinstance(prices, PriceTable):
        return prices
    if isinstance(prices, Mapping):
        return PriceTable.default().updated(PriceTable.from_dict(prices))
    return PriceTable.default().updated(PriceTable.from_file(prices))


# The cost of a run in SQL over runs' token columns joined with `PriceTable.frame`. LangChain's
# usage_metadata counts cache reads and writes inside input_tokens and reasoning inside
# output_tokens, so those are priced apart and taken out of the plain input/output count.
# `output_price` is the output price, or 0 for a run without output tokens, else NULL.
OUTPUT_PRICE_SQL = (
    "coalesce(p.price_output, CASE WHEN coalesce(r.output_tokens, 0) = 0 THEN 0.0 END)"
)
_COST_SQL = """
CASE WHEN p.price_entry IS NULL OR (r.input_tokens IS NULL AND r.output_tokens IS NULL)
THEN NULL ELSE (
  (coalesce(r.input_tokens, 0) - coalesce(r.cache_read_input_tokens, 0)
     - coalesce(r.cache_creation_input_tokens, 0)) * p.price_input
  + coalesce(r.cache_read_input_tokens, 0) * coalesce(p.price_cached_input, p.price_input)
  + coalesce(r.cache_creation_input_tokens, 0) * coalesce(p.price_cache_write, p.price_input)
  + (coalesce(r.output_tokens, 0) - coalesce(r.reasoning_output_tokens, 0)) * output_price
  + coalesce(r.reasoning_output_tokens, 0) * coalesce(p.price_reasoning, output_price)
) / 1e6 * (CASE WHEN {batch} THEN 1 - coalesce(p.price_batch_discount, 0) ELSE 1 END)
END
"""


def cost_sql(batch: bool) -> str:
    """The SQL expression of a run's cost in USD over `r` (a run) joined with `p` (its row
    of `PriceTable.frame`); `batch` applies the batch API's discount."""
    return _COST_SQL.replace("output_price", OUTPUT_PRICE_SQL).format(batch=str(batch).upper())
