"""The price table: exact-name matching, the user's own prices, and unknown models left
unpriced (null cost, listed) rather than priced like some other model."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from parquet_logger.read import PriceTable, runs
from parquet_logger.read.cost import ModelPrice, price_table
from tests.read.workload import PRICED_MODEL, UNPRICED_MODEL


def test_shipped_table_says_where_and_when():
    """The shipped table names its source and the date it was checked, and prices the
    common models per 1M tokens."""
    table = PriceTable.default()
    assert "litellm" in (table.source or "")
    assert len(table.checked or "") == 10
    hit = table.lookup("gpt-4o-mini")
    assert hit is not None
    price = hit[1]
    assert (price.input, price.output, price.cached_input) == (0.15, 0.6, 0.075)
    assert price.batch_discount == 0.5


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("GPT-4o-mini", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
    ],
)
def test_lookup_matches_exact_names(name, entry):
    """Case, a provider prefix and a release date are the only liberties taken."""
    hit = PriceTable.default().lookup(name)
    assert hit is not None
    assert hit[0] == entry


@pytest.mark.parametrize("name", ["gpt-4o-mini-finetuned", "gpt-4", "my-gpt-4o-mini", "", None])
def test_lookup_never_guesses(name):
    """A name that is only like a known model is unknown: no prefix or fuzzy matching."""
    table = PriceTable.from_dict({"gpt-4o-mini": {"input": 1, "output": 2}})
    assert table.lookup(name) is None


def test_unknown_model_has_null_cost_and_is_listed(logged):
    """The unpriced model's run has no cost; it is listed in attrs; others are priced."""
    df = runs(logged)
    unknown = df[df["model"] == UNPRICED_MODEL].iloc[0]
    assert pd.isna(unknown["cost_usd"])
    assert pd.isna(unknown["priced_as"])
    assert df.attrs["unpriced_models"] == [UNPRICED_MODEL]
    chain = df[df["run_type"] == "chain"]
    assert chain["cost_usd"].isna().all()  # no tokens: no cost, and not "unpriced"


def test_cost_arithmetic_with_cache_reads(logged):
    """1000 in (400 of them cache reads), 200 out at gpt-4o-mini's prices."""
    df = runs(logged)
    llm = df[df["model"] == PRICED_MODEL].iloc[0]
    expected = (600 * 0.15 + 400 * 0.075 + 200 * 0.6) / 1e6
    assert llm["cost_usd"] == pytest.approx(expected)
    assert llm["priced_as"] == PRICED_MODEL
    half = runs(logged, batch_api=True)
    assert half[half["model"] == PRICED_MODEL].iloc[0]["cost_usd"] == pytest.approx(expected / 2)


def test_users_own_prices_override_and_extend(logged, tmp_path):
    """A JSON file of the user's prices prices the unknown model and replaces a shipped
    entry; the rest of the shipped table stays."""
    mine = tmp_path / "prices.json"
    mine.write_text(
        json.dumps(
            {
                "checked": "2026-12-01",
                "models": {
                    UNPRICED_MODEL: {"input": 1.0, "output": 2.0},
                    PRICED_MODEL: {"input": 10.0, "output": 10.0},
                },
            }
        )
    )
    df = runs(logged, prices=mine)
    assert df.attrs["unpriced_models"] == []
    local = df[df["model"] == UNPRICED_MODEL].iloc[0]
    assert local["cost_usd"] == pytest.approx((50 * 1.0 + 3 * 2.0) / 1e6)
    llm = df[df["model"] == PRICED_MODEL].iloc[0]
    assert llm["cost_usd"] == pytest.approx(1200 * 10.0 / 1e6)  # no cached price: input's
    assert price_table(mine).lookup("gpt-4.1") is not None


def test_bad_prices_are_refused():
    """Negative prices and entries without an input price are errors naming the field."""
    with pytest.raises(ValueError, match="input"):
        PriceTable.from_dict({"m": {"output": 1}})
    with pytest.raises(ValueError, match="price output"):
        ModelPrice(input=1.0, output=-1.0)
    with pytest.raises(ValueError, match="batch_discount"):
        ModelPrice(input=1.0, batch_discount=1.5)
