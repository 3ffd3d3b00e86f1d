"""Fit valid JSON into a byte limit: cut its longest strings with a marker, else keep a
prefix of its text (the last step of `safe_json`, for a result longer than `max_bytes`)."""

from __future__ import annotations

import bisect
import itertools

import orjson

# A string is only cut when that saves more than the marker (at most 41 bytes) costs.
_MARKER_SLACK = 41
_MIN_CUT_CHARS = 64  # below this, cutting strings is hopeless: keep a prefix of the text
_PREFIX_KEY = "$truncated_json_prefix"
_PREFIX_OVERHEAD = len(orjson.dumps({_PREFIX_KEY: ""}))
_EMPTY_PREFIX = orjson.dumps({_PREFIX_KEY: ""})


def shrink(data: bytes, max_bytes: int) -> bytes:
    """Fit valid JSON `data` into max_bytes: cut long strings, else keep a prefix of the text."""
    try:
        tree = orjson.loads(data)
        sizes = sorted(_long_string_sizes(tree, []))
        target = max_bytes
        for _ in range(3):  # the size estimate assumes even density: correct it twice at most
            limit = _cut_limit(sizes, len(data), target)
            if limit is None:
                break
            out = orjson.dumps(_cut_strings(tree, limit))
            if len(out) <= max_bytes:
                return out
            target -= len(out) - max_bytes
    except Exception:
        pass  # RecursionError or MemoryError on a huge tree: the prefix needs neither
    return _prefix_object(data, max_bytes)


def _cut_limit(sizes: list[tuple[int, int]], size: int, target: int) -> int | None:
    """The largest string limit (in chars) whose cut output should fit `target` bytes, or None.

    `sizes` are (chars, JSON bytes) of the cuttable strings, sorted. A string cut to `limit`
    chars is assumed to keep `limit * bytes / chars` bytes plus a marker.
    """
    if not sizes:
        return None
    chars = [count for count, _ in sizes]
    marker = len(_marker(chars[-1]).encode())
    # Suffix sums, so that the strings cut at a limit (a tail of `sizes`) sum up in O(1).
    cut_bytes = list(itertools.accumulate((b for _, b in reversed(sizes)), initial=0))[::-1]
    density = list(itertools.accumulate((b / c for c, b in reversed(sizes)), initial=0.0))[::-1]

    def estimate(limit: int) -> float:
        first_cut = bisect.bisect_right(chars, limit + _MARKER_SLACK)
        cut_count = len(chars) - first_cut
        kept = limit * density[first_cut] + cut_count * (marker + 1)
        return size - cut_bytes[first_cut] + kept

    low, high = _MIN_CUT_CHARS, chars[-1]
    if estimate(low) > target:
        return None
    while low < high:  # the estimate grows with the limit: find the last limit that fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if estimate(middle) <= target else (low, middle - 1)
    return low


def _long_string_sizes(obj: object, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Append to `found` (chars, JSON bytes) of every string value long enough to be cut."""
    if isinstance(obj, str):
        if len(obj) > _MIN_CUT_CHARS + _MARKER_SLACK:
            # Encoded size, escapes included (a control character costs 6 bytes).
            found.append((len(obj), len(orjson.dumps(obj)) - 2))
    elif isinstance(obj, dict):
        for value in obj.values():
            _long_string_sizes(value, found)
    elif isinstance(obj, list):
        for value in obj:
            _long_string_sizes(value, found)
    return found


def _cut_strings(obj: object, limit: int) -> object:
    """A copy of a parsed JSON tree with every string over `limit` chars cut and marked."""
    if isinstance(obj, str):
        if len(obj) <= limit + _MARKER_SLACK:
            return obj
        return obj[:limit] + _marker(len(obj) - limit)
    if isinstance(obj, dict):
        items = {}
        for key, value in obj.items():
            items[key] = _cut_strings(value, limit)
        return items
    if isinstance(obj, list):
        elements = []
        for value in obj:
            elements.append(_cut_strings(value, limit))
        return elements
    return obj


def _marker(removed_chars: int) -> str:
    """What replaces the cut end of a string."""
    return f"…[truncated {removed_chars} chars]"


def _prefix_object(data: bytes, max_bytes: int) -> bytes:
    """`{"$truncated_json_prefix": <longest valid UTF-8 prefix of data that fits>}`."""
    budget = max_bytes - _PREFIX_OVERHEAD
    if budget <= 0:
        return _EMPTY_PREFIX
    # orjson's own output has no raw control characters, so re-encoding it as a JSON string
    # only doubles `"` and `\`. Dropping as many bytes as the excess surely fits (each dropped
    # byte saves at least one); then search upwards for the longest prefix that fits.
    low = high = min(len(data), budget)
    if _escaped_size(data, high) > budget:
        low = max(0, high - (_escaped_size(data, high) - budget))
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if _escaped_size(data, middle) <= budget else (low, middle - 1)
    # Only the last character can be cut in half; "ignore" drops exactly that.
    out = orjson.dumps({_PREFIX_KEY: data[:low].decode("utf-8", "ignore")})
    return out if len(out) <= max_bytes else _EMPTY_PREFIX


def _escaped_size(data: bytes, length: int) -> int:
    """Bytes that data[:length] takes inside a JSON string."""
    return length + data.count(b'"', 0, length) + data.count(b"\\", 0, length)
