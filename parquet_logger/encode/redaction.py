"""Replace secret values with "***" before anything reaches disk: the one redaction.

A value is secret when its key looks like a credential (`is_secret_key`) or when it is
LangChain's serialized SecretStr marker (`{"lc": 1, "type": "secret", "id": [...]}`). Only keys
are judged: a prompt that mentions "password" is data, not a secret. Secrets inside strings
(JSON text in a tool argument, an exception message) are out of reach.

`scrub` is the one tree walk; `redact_json` applies it to JSON bytes that were encoded without
it, and scans key by key the one form no tree can represent: the text of a JSON prefix kept by
truncation (`{"$truncated_json_prefix": ...}`).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson

REDACTED = "***"

# Keys are normalised first: camelCase -> snake_case, "-" -> "_", lower case.
_SUFFIXES = ("api_key", "apikey", "_token")
_FRAGMENTS = (
    "password",
    "passwd",
    "secret",
    "private_key",
    "access_key",
    "authorization",
    "credential",
    "cookie",
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# The cheap pre-check: one of these in the lower-cased bytes is necessary (not sufficient) for a
# secret key or marker. Each `in` costs about 0.5 ns per byte, so the list is as short as it can
# be: "key" covers api_key/apikey/api-key/private_key/access_key in all spellings; `token"` ends
# a `..._token` or `...Token` key but not `max_tokens"` or `token_usage`, which LLM events carry.
_HINTS = (b"key", b'token"', b"passw", b"secret", b"authorization", b"credential", b"cookie")
_PREFIX_KEY = "$truncated_json_prefix"
_PREFIX_START = b'{"$truncated_json_prefix"'

# A JSON string (possibly cut off by truncation) with the colon that makes it a key, and a
# string-or-bracket token for skipping nested values. Unrolled loops (`[^"\\]*(?:\\.[^"\\]*)*`)
# keep the regex engine linear.
_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)(?:"|\\?\Z)', re.DOTALL)
_STRING_OR_KEY = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)(?:"|\\?\Z)(\s*:\s*)?', re.DOTALL)
_NESTED_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_SCALAR = re.compile(r"[^,\]}]*")


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Tell whether a dict key names a credential.

    Args:
        key: the key, in any case, snake_case, camelCase or kebab-case.

    Returns:
        True for `api_key`, `apikey`, `*_api_key`, `*_token` (but not `token`, `*_tokens`), and
        keys containing password, passwd, secret, private_key, access_key, authorization,
        credential or cookie.
    """
    normal = _CAMEL_BOUNDARY.sub("_", key).lower().replace("-", "_")
    return normal.endswith(_SUFFIXES) or any(fragment in normal for fragment in _FRAGMENTS)


def redact_json(data: bytes) -> bytes:
    """Return JSON bytes with every secret value replaced by "***".

    Args:
        data: compact JSON encoded without `scrub` (including the
            `{"$truncated_json_prefix": ...}` form, whose text is scanned key by key).

    Returns:
        `data` itself (same object) when nothing was secret, else new JSON bytes. Redacting a
        short value can add a few bytes (`null` -> `"***"`). Invalid JSON that may hold a secret
        yields `{"$redaction_error": ...}` rather than risk writing it.
    """
    # Keys inside a truncated prefix are escaped (`\"hf_token\":`): the hints do not apply.
    if not data.startswith(_PREFIX_START):
        lowered = data.lower()
        if not any(hint in lowered for hint in _HINTS):
            return data
    try:
        tree = orjson.loads(data)
        redacted = _redact_prefix(tree) if _is_prefix(tree) else scrub(tree)
        return data if redacted is tree else orjson.dumps(redacted)
    except Exception as exc:
        return orjson.dumps({"$redaction_error": type(exc).__name__})


_secret_keys: dict[str, bool] = {}
# Keys judged not secret: lets scrub clear a whole dict with one C-level subset test.
_safe_keys: set[str] = set()
_MAX_LEARNED_KEYS = 65536  # keys made of data must not grow the caches forever


def scrub(obj: Any) -> Any:
    """Return obj with secret values replaced, copying only the containers that change.

    The hot path's redaction: it looks at dict keys only, so its cost follows the number of
    keys, not the length of the prompts. `safe_json` scrubs the plain containers it is given,
    and `convert.default` every dict it converts an object into. A dict whose keys
    are all known to be safe and that holds no container is cleared without a Python loop
    (the subset and disjoint tests run in C): most dicts of an LLM event are like that.
    """
    kind = type(obj)
    if kind is dict:
        if not obj:
            return obj
        if "lc" in obj and obj.get("type") == "secret":
            return REDACTED
        if obj.keys() <= _safe_keys:
            if _CONTAINERS.isdisjoint(map(type, obj.values())):
                return obj
            return _scrub_values(obj)
        return _scrub_keys(obj)
    if kind is list or kind is tuple:
        if _CONTAINERS.isdisjoint(map(type, obj)):
            return obj
        items: list[Any] | None = None
        for i, value in enumerate(obj):
            if type(value) in _CONTAINERS and value:
                new = scrub(value)
                if new is not value:
                    if items is None:
                        items = list(obj)
                    items[i] = new
        if items is None:
            return obj
        return tuple(items) if kind is tuple else items
    return obj


def _scrub_values(obj: dict[Any, Any]) -> dict[Any, Any]:
    """scrub of a dict none of whose keys is secret: only its containers can change."""
    copy: dict[Any, Any] | None = None
    for key, value in obj.items():
        if type(value) in _CONTAINERS and value:
            new = scrub(value)
            if new is not value:
                if copy is None:
                    copy = dict(obj)
                copy[key] = new
    return obj if copy is None else copy


def _scrub_keys(obj: dict[Any, Any]) -> Any:
    """scrub of a dict with keys not judged yet (or secret, or not strings)."""
    known = _secret_keys
    copy: dict[Any, Any] | None = None
    for key, value in obj.items():
        secret = known.get(key) if type(key) is str else False
        if secret is None:
            secret = _learn_key(key)
        if secret:
            new: Any = REDACTED
        elif type(value) in _CONTAINERS and value:
            new = scrub(value)
            if new is value:
                continue
        else:
            continue
        if copy is None:
            copy = dict(obj)
        copy[key] = new
    return obj if copy is None else copy


def _learn_key(key: str) -> bool:
    if len(_secret_keys) > _MAX_LEARNED_KEYS:
        _secret_keys.clear()
        _safe_keys.clear()
    secret = _secret_keys[key] = is_secret_key(key)
    if not secret:
        _safe_keys.add(key)
    return secret


_CONTAINERS = frozenset({dict, list, tuple})


def _is_prefix(tree: object) -> bool:
    """True for `{"$truncated_json_prefix": text}`, the form shrink gives a JSON prefix."""
    return type(tree) is dict and len(tree) == 1 and type(tree.get(_PREFIX_KEY)) is str


def _redact_prefix(tree: dict[str, str]) -> dict[str, str]:
    """The prefix form with its JSON text redacted key by key (`tree` itself if unchanged)."""
    redacted, changed = _redact_text(tree[_PREFIX_KEY])
    return {_PREFIX_KEY: redacted} if changed else tree


def _redact_text(text: str) -> tuple[str, bool]:
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
        if is_secret_key(_decode_key(match.group(1))):
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
