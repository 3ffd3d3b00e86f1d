"""The one way from a Python object to bounded, redacted JSON bytes; never raises.

A call runs downhill, each step in its own module: the logger's `Redactor.scrub` replaces the
values of secret keys in the plain containers; one `orjson.dumps` encodes, calling
`convert.default` for each object it cannot encode natively (converted, then scrubbed); only
if orjson refuses does `convert.slow_json` walk the object in Python; `shrink` fits a result
longer than `max_bytes`: long strings cut to `"...…[truncated N chars]"`, or else
`{"$truncated_json_prefix": "..."}` (credential shapes are masked before a cut, so no cut can
leave half of one). An event's envelope then gets `Redactor.mask_json` once, over its bytes:
credential shapes anywhere, the user's patterns and hook.
"""

from __future__ import annotations

from typing import Any

import orjson

from parquet_logger.encode.convert import make_default, slow_json
from parquet_logger.encode.json_redaction import redact_json
from parquet_logger.encode.redaction import DEFAULT, HookFailed, Redactor
from parquet_logger.encode.shrink import shrink

# Dataclasses come to `default` (orjson would encode them natively, past scrub).
OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
_MIN_RAW_BYTES = 4096  # an envelope cut in parts keeps at least this much of `raw`


def safe_json(
    obj: object, max_bytes: int, redactor: Redactor = DEFAULT
) -> tuple[bytes, int | None]:
    """Serialize `obj` to compact UTF-8 JSON of at most `max_bytes`, secret keys' values
    replaced (credential shapes in text are `Redactor.mask_json`'s job).

    Args:
        obj: anything; see `convert` for how each kind of object is written.
        max_bytes: size limit of the result; it always holds for `max_bytes >= 64`, whose
            room is enough for the shortest fallbacks.
        redactor: the logger's redaction rules.

    Returns:
        `(json_bytes, None)`, or `(json_bytes, original_size)` when the JSON was longer than
        `max_bytes` and had to be shrunk.
    """
    try:
        tree = redactor.scrub(obj)
    except RecursionError:  # too deep (or cyclic) for scrub's walk: redact the text instead
        data, cut = _bounded(obj, max_bytes, redactor)
        return redact_json(data, redactor), cut
    return _bounded(tree, max_bytes, redactor)


def envelope_json(
    head: dict[str, Any],
    data: dict[str, Any],
    raw: dict[str, Any],
    max_bytes: int,
    redactor: Redactor = DEFAULT,
) -> bytes:
    """The event payload `{**head, "data": data, "raw": raw}` as JSON of at most `max_bytes`.

    Usually one scrub walk per part and one orjson call. An envelope over `max_bytes`, or
    one orjson refuses, is encoded in two parts: `head` and `data` within half of
    `max_bytes`, `raw` in what is left; then it starts with
    `"truncated": {"original_bytes": N}`.

    Args:
        head: the envelope's first keys; its values hold no secret (ids, tags, and JSON
            fragments that were redacted when they were made), so it is not scrubbed.
        data, raw: the event's curated fields and its callback arguments; their own keys
            are the schema's (not judged as secret), what they hold is scrubbed.
        max_bytes: size limit of the result (at least 4096).
        redactor: the logger's redaction rules; if its hook fails, the payload is only
            `{"event_type", "timestamp", "redaction": "redact hook failed: <type>"}`.
    """
    try:
        data, raw = redactor.scrub_inside(data), redactor.scrub_inside(raw)
        envelope = {**head, "data": data, "raw": raw}
        payload = orjson.dumps(envelope, default=_default_of(redactor), option=OPTIONS)
    except Exception:  # too deep for scrub, or an object orjson and its hook refuse
        payload = _envelope_in_parts({**head, "data": data}, raw, max_bytes, redactor)
    else:
        if len(payload) > max_bytes:
            payload = _envelope_in_parts({**head, "data": data}, raw, max_bytes, redactor)
    try:
        masked = redactor.mask_json(payload)
    except HookFailed as failed:
        marker = redactor.hook_failed(failed.cause)
        keep = {"event_type": head.get("event_type"), "timestamp": head.get("timestamp")}
        return orjson.dumps({**keep, "redaction": marker}, option=OPTIONS)
    # The user's patterns and hook may lengthen strings.
    return masked if len(masked) <= max_bytes else shrink(masked, max_bytes)


def _default_of(redactor: Redactor) -> Any:
    """orjson's `default` hook that scrubs with `redactor` (made once per redactor)."""
    hook = redactor.json_default
    if hook is None:
        hook = redactor.json_default = make_default(redactor.scrub)
    return hook


def _bounded(tree: object, max_bytes: int, redactor: Redactor) -> tuple[bytes, int | None]:
    """Encode a scrubbed tree (objects in it are scrubbed by `default`), then fit it."""
    try:
        try:
            data = orjson.dumps(tree, default=_default_of(redactor), option=OPTIONS)
        except Exception:
            data = slow_json(tree, redactor.scrub)
        if len(data) <= max_bytes:
            return data, None
        # Masked before the cut: a credential cut in half would no longer have its shape.
        return shrink(redactor.shapes.mask_bytes(data), max_bytes), len(data)
    except Exception as exc:  # a bad max_bytes or MemoryError: still answer with valid JSON
        # Only the type name: this answer skips the size check, so it must stay tiny.
        return orjson.dumps({"$unserializable": type(exc).__name__}), None


def _envelope_in_parts(
    head: dict[str, Any], raw: dict[str, Any], max_bytes: int, redactor: Redactor
) -> bytes:
    """`head` and `raw` encoded apart, each within its share of `max_bytes`, then joined as
    `{...head, "raw"}` and marked as truncated if either part was cut."""
    head_json, head_cut = safe_json(head, max_bytes // 2, redactor)
    room = max(_MIN_RAW_BYTES, max_bytes - len(head_json))
    raw_json, raw_cut = safe_json(raw, room, redactor)
    payload = head_json[:-1] + b',"raw":' + raw_json + b"}"
    if head_cut is None and raw_cut is None:
        return payload
    original = (head_cut or len(head_json)) + (raw_cut or len(raw_json))
    marker = b'"truncated":{"original_bytes":%d},' % original
    return b"{" + marker + payload[1:]
