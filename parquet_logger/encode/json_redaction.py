"""`redact_json`: a `Redactor`'s key rules applied to JSON bytes encoded without `scrub`,
including the one form no tree can represent, the text of a JSON prefix kept by truncation
(`{"$truncated_json_prefix": ...}`), which is scanned key by key."""

from __future__ import annotations

import re

import orjson

from parquet_logger.encode.redaction import DEFAULT, REDACTED, Redactor

# The cheap pre-check: one of these in the lower-cased bytes is necessary (not sufficient) for
# a secret key or marker of the built-in rules (every credential word and term of
# `secret_keys` contains one; "secret" also finds the marker).
_HINTS = (
    *(b"key", b"token", b"pass", b"pwd", b"secret", b"auth", b"bearer", b"session", b"sig"),
    *(b"credential", b"cookie", b"conn"),
)
_PREFIX_KEY = "$truncated_json_prefix"
_PREFIX_START = b'{"$truncated_json_prefix"'

# A JSON string (possibly cut off by truncation) with the colon that makes it a key, and a
# string-or-bracket token for skipping nested values. Unrolled loops (`[^"\\]*(?:\\.[^"\\]*)*`)
# keep the regex engine linear.
_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)(?:"|\\?\Z)', re.DOTALL)
_STRING_OR_KEY = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)(?:"|\\?\Z)(\s*:\s*)?', re.DOTALL)
_NESTED_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_SCALAR = re.compile(r"[^,\]}]*")


def redact_json(data: bytes, redactor: Redactor = DEFAULT) -> bytes:
    """Return JSON bytes with every secret value replaced by "***".

    Args:
        data: compact JSON encoded without `scrub` (including the
            `{"$truncated_json_prefix": ...}` form, whose text is scanned key by key).

    Returns:
        `data` itself (same object) when nothing was secret, else new JSON bytes. Redacting a
        short value can add a few bytes (`null` -> `"***"`). Invalid JSON that may hold a secret
        yields `{"$redaction_error": ...}` rather than risk writing it.
    """
    # Keys inside a truncated prefix are escaped (`\"hf_token\":`): the hints do not apply, nor
    # do they know the user's own key names.
    if not data.startswith(_PREFIX_START) and redactor is DEFAULT:
        lowered = data.lower()
        if not any(hint in lowered for hint in _HINTS):
            return data
    try:
        tree = orjson.loads(data)
        redacted = _redact_prefix(tree, redactor) if _is_prefix(tree) else redactor.scrub(tree)
        return data if redacted is tree else orjson.dumps(redacted)
    except Exception as exc:
        return orjson.dumps({"$redaction_error": type(exc).__name__})


def _is_prefix(tree: object) -> bool:
    """True for `{"$truncated_json_prefix": text}`, the form shrink gives a JSON prefix."""
    return type(tree) is dict and len(tree) == 1 and type(tree.get(_PREFIX_KEY)) is str


def _redact_prefix(tree: dict[str, str], redactor: Redactor) -> dict[str, str]:
    """The prefix form with its JSON text redacted key by key (`tree` itself if unchanged)."""
    redacted, changed = _redact_text(tree[_PREFIX_KEY], redactor)
    return {_PREFIX_KEY: redacted} if changed else tree


def _redact_text(text: str, redactor: Redactor) -> tuple[str, bool]:
    """Redact JSON text that may stop anywhere, by scanning its strings in order.

    Every string is matched from the start of the document on, so a quote inside a string is
    never taken for the start of a key. Secret markers are left alone: they only name an
    environment variable.
    """
    pieces: list[str] = []
    done = 0
    for match in _STRING_OR_KEY.finditer(text):
        if match.start() < done or match.group(2) is None:
            continue  # inside a value already replaced, or a string that is not a key
        if redactor.is_secret_key(_decode_key(match.group(1))):
            pieces += [text[done : match.end()], f'"{REDACTED}"']
            done = _value_end(text, match.end())
    if not pieces:
        return text, False
    pieces.append(text[done:])
    return "".join(pieces), True


def _decode_key(raw: str) -> str:
    """The key a JSON string body spells (escapes resolved when possible)."""
    if "\\" not in raw:
        return raw
    try:
        decoded = orjson.loads(f'"{raw}"')
    except orjson.JSONDecodeError:
        return raw
    return decoded if isinstance(decoded, str) else raw


def _value_end(text: str, start: int) -> int:
    """End of the JSON value starting at `start`, or len(text) if the text stops inside it."""
    if text.startswith('"', start):
        match = _STRING.match(text, start)
        return match.end() if match else len(text)
    if not text.startswith(("{", "["), start):
        scalar = _SCALAR.match(text, start)
        return scalar.end() if scalar else len(text)
    depth = 0
    for token in _NESTED_TOKEN.finditer(text, start):
        if token.group() in ("{", "["):
            depth += 1
        elif token.group() in ("}", "]"):
            depth -= 1
            if depth == 0:
                return token.end()
    return len(text)
