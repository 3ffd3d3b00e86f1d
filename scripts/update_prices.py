"""Rebuild parquet_logger/read/prices.json from litellm's price table.

    pip download --no-deps litellm && unzip -j litellm-*.whl \
        litellm/model_prices_and_context_window_backup.json
    python scripts/update_prices.py model_prices_and_context_window_backup.json \
        --source "litellm 1.110.2" --checked 2026-12-06

Keeps the direct APIs of the main providers (chat, responses, completion and embedding
models), converts per-token prices to USD per 1M tokens, and records where they came from and
when. Prices are copied, never guessed: a model the source does not price is left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).parents[1] / "parquet_logger" / "read" / "prices.json"
PROVIDERS = {"openai", "anthropic", "gemini", "mistral", "deepseek", "xai"}
MODES = {"chat", "responses", "completion", "embedding"}
FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cached_input": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "reasoning": "output_cost_per_reasoning_token",
}


def per_million(value: Any) -> float | None:
    """A per-token price as USD per 1M tokens, rounded off float noise."""
    if not isinstance(value, int | float):
        return None
    return round(value * 1_000_000, 6)


def batch_discount(entry: dict[str, Any]) -> float | None:
    """The batch API's discount (0.5 = half price) when input and output agree on it."""
    pairs = [
        (entry.get("input_cost_per_token"), entry.get("input_cost_per_token_batches")),
        (entry.get("output_cost_per_token"), entry.get("output_cost_per_token_batches")),
    ]
    ratios = {round(1 - b / a, 4) for a, b in pairs if a and isinstance(b, int | float)}
    return ratios.pop() if len(ratios) == 1 else None


def convert(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The models kept, by name without the provider prefix."""
    models: dict[str, dict[str, Any]] = {}
    for key, entry in sorted(source.items()):
        if not isinstance(entry, dict) or entry.get("litellm_provider") not in PROVIDERS:
            continue
        if entry.get("mode") not in MODES or "input_cost_per_token" not in entry:
            continue
        name = key.split("/", 1)[1] if key.startswith(f"{entry['litellm_provider']}/") else key
        if "/" in name or name.startswith("ft:"):
            continue
        row: dict[str, Any] = {"provider": entry["litellm_provider"]}
        for field, source_key in FIELDS.items():
            price = per_million(entry.get(source_key))
            if price is not None:
                row[field] = price
        discount = batch_discount(entry)
        if discount is not None:
            row["batch_discount"] = discount
        models[name] = row
    return models


def dump(table: dict[str, Any]) -> str:
    """The table as JSON with one model per line (reviewable diffs)."""
    head = {k: v for k, v in table.items() if k != "models"}
    lines = [json.dumps(head)[:-1] + ', "models": {']
    rows = [f"  {json.dumps(name)}: {json.dumps(row)}" for name, row in table["models"].items()]
    return "\n".join([*lines, ",\n".join(rows), "}}"]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("litellm_json", type=Path)
    parser.add_argument("--source", required=True, help='e.g. "litellm 1.110.2"')
    parser.add_argument("--checked", required=True, help="the date taken, YYYY-MM-DD")
    args = parser.parse_args()
    models = convert(json.loads(args.litellm_json.read_text()))
    table = {
        "currency": "USD",
        "unit": "per 1M tokens",
        "checked": args.checked,
        "source": f"{args.source}, model_prices_and_context_window_backup.json (MIT)",
        "models": models,
    }
    OUT.write_text(dump(table))
    print(f"{len(models)} models written to {OUT}")  # noqa: T201


if __name__ == "__main__":
    main()
