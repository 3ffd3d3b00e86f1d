"""Typed column values that their column cannot hold, replaced so that the row is still stored.

`record` comes here only when orjson refuses a record's typed columns or a token count is
past int64; the common record never does. What a repaired record holds:

| value for a typed column   | the column                       | the payload (`encode.convert`)   |
|----------------------------|----------------------------------|----------------------------------|
| text with lone surrogates  | each one U+FFFD (pairs joined)   | the text, each one `\\udXXX`     |
| int outside int64          | null                             | the number; past 64 bits, text   |
| any other type             | `str(value)`; null if that fails | as `encode.convert` writes it    |

The payload then starts with `"repaired": [the names of the changed columns]`.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import orjson

from parquet_logger.capture.llm_facts import Usage

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def counts_fit_int64(usage: Usage) -> bool:
    """Whether every token count fits its int64 column (orjson writes up to 2**64 - 1, so
    the fast path alone would let [2**63, 2**64) through to the writer)."""
    for count in usage.counts():
        if count is not None and not INT64_MIN <= count <= INT64_MAX:
            return False
    return True


def repair_columns(meta: dict[str, Any]) -> list[str]:
    """Replace, in place, each typed column value its column cannot hold (see the module
    table); return the names of the columns that changed, in column order."""
    repaired = []
    for name, value in meta.items():
        fixed = _column_value(value)
        if fixed is not value:
            meta[name] = fixed
            repaired.append(name)
    return repaired


def mark_repaired(payload: bytes, columns: list[str]) -> bytes:
    """The payload with `"repaired": columns` as its first key (the payload is always a
    non-empty JSON object: its envelope starts with `event_type`)."""
    return b'{"repaired":' + orjson.dumps(columns) + b"," + payload[1:]


def _column_value(value: object) -> object:
    """`value` itself when a column can hold it, else its replacement."""
    if value is None or isinstance(value, float | UUID):
        return value
    if type(value) is list:  # finish_reasons: each reason as text
        fixed = [_column_value(item) for item in value]
        same = all(a is b for a, b in zip(fixed, value, strict=True))
        return value if same else fixed
    if isinstance(value, int):  # bool too: JSON true/false, the writer coerces it
        return value if INT64_MIN <= value <= INT64_MAX else None
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:
            return None
    return valid_text(value)


def valid_text(text: str) -> str:
    """`text` if UTF-8 can hold it; else with surrogate pairs joined (as JavaScript's UTF-16
    strings arrive) and each lone surrogate replaced by U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        return _LONE_SURROGATE.sub("\ufffd", joined)
