"""Argument checks shared by every public entry point, so that the same kind of mistake always
raises the same exception: a wrong type is a `TypeError`, a right type with a wrong value a
`ValueError`. Each message names the parameter, what was expected and what was given.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

__all__ = [
    "require_bool",
    "require_choice",
    "require_int",
    "require_seconds",
    "require_str",
]


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def require_int(name: str, value: object, *, minimum: int = 1, optional: bool = False) -> None:
    """`value` is an int (not a bool) >= `minimum`, or None when `optional`.

    Raises:
        TypeError: not an integer.
        ValueError: below `minimum`.
    """
    if value is None and optional:
        return
    expected = f"an integer >= {minimum}" + (" or None" if optional else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def require_seconds(
    name: str, value: object, *, allow_zero: bool = False, optional: bool = False
) -> None:
    """`value` is a finite number of seconds, > 0 (>= 0 with `allow_zero`), or None when
    `optional`.

    Raises:
        TypeError: not a number.
        ValueError: negative, zero where not allowed, NaN or infinite.
    """
    if value is None and optional:
        return
    bound = ">= 0" if allow_zero else "> 0"
    expected = f"a number of seconds {bound}" + (" or None" if optional else "")
    if not _is_number(value):
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    number: float = value  # type: ignore[assignment]
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def require_bool(name: str, value: object) -> None:
    """`value` is True or False.

    Raises:
        TypeError: anything else (1 and "yes" included).
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def require_str(
    name: str, value: object, *, allow_empty: bool = True, optional: bool = False
) -> None:
    """`value` is a string (non-blank unless `allow_empty`), or None when `optional`.

    Raises:
        TypeError: not a string.
        ValueError: blank where a value is required.
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        expected = "a string" + (" or None" if optional else "")
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")


def require_choice(name: str, value: object, choices: Collection[Any]) -> None:
    """`value` is one of `choices` (strings).

    Raises:
        TypeError: not a string.
        ValueError: a string that is not one of `choices`.
    """
    accepted = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {accepted}, got {value!r} ({type(value).__name__})")
    if value not in choices:
        raise ValueError(f"{name} must be one of {accepted}, got {value!r}")
