"""Which dict keys name a credential: one rule over the key's words.

A key is split into lower-case words (camelCase, `-`, `_`, `.` and spaces all separate words:
`Ocp-Apim-Subscription-Key`, `AccountKey` and `x_api_key` end in the word `key`). It is secret
when
1. its words joined contain a credential term anywhere (`password`, `secret`, `apikey`,
   `accesskey`, `privatekey`, `authorization`, `credential`, `cookie`, `connectionstring`...);
2. or its last word is a credential word (`key`, `token`, `auth`, `bearer`, `session`, `sig`,
   `pass`, `pwd`, ...) and the word before it does not make it a data key or a count
   (`cache_key`, `sort_key`, `max_token`, `eos_token`);
3. or it ends in `keys` after a credential qualifier (`api_keys`, `access_keys`).
So token counts (`max_tokens`, `input_tokens`, `token_usage`), `keys`, `key_name` and
`session_id` stay readable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")

_TERMS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "accesskey",
    "privatekey",
    "authorization",
    "credential",
    "cookie",
    "connectionstring",
    "connstr",
)
_LAST_WORDS = frozenset(
    {"key", "token", "auth", "bearer", "session", "sig", "signature", "pass", "pwd"}
)
# Words that, before `key` or `token`, make it a data key, a model's special token or a count.
_NOT_CREDENTIAL = frozenset(
    {
        *("cache", "sort", "partition", "primary", "foreign", "routing", "idempotency", "dedup"),
        *("group", "shard", "hash", "row", "lookup", "dict", "map", "index", "object", "range"),
        *("max", "min", "num", "total", "input", "output", "prompt", "completion", "reasoning"),
        *("eos", "bos", "pad", "unk", "sep", "cls", "mask", "stop", "start", "end", "special"),
    }
)
_KEYS_QUALIFIERS = frozenset({"api", "access", "secret", "private", "account", "subscription"})


def key_words(key: str) -> list[str]:
    """The lower-case words of a key in any spelling (`apiKeys` -> ["api", "keys"])."""
    return [word for word in _SEPARATORS.split(_CAMEL.sub("_", key).lower()) if word]


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Tell whether a dict key names a credential (see the module docstring for the rule).

    Args:
        key: the key, in any case, snake_case, camelCase or kebab-case.

    Returns:
        True for `api_key`, `token`, `Authorization`, `x-api-key`, `AccountKey`, ...; False for
        `max_tokens`, `token_usage`, `keys`, `key_name`, `session_id`, `cache_key`, ...
    """
    words = key_words(key)
    if not words:
        return False
    joined = "".join(words)
    if any(term in joined for term in _TERMS):
        return True
    last, before = words[-1], words[-2] if len(words) > 1 else ""
    if last in _LAST_WORDS:
        return before not in _NOT_CREDENTIAL
    return last == "keys" and before in _KEYS_QUALIFIERS


class KeyRule:
    """`is_secret_key`, plus key names a user adds (compared by their words, so `badge_no`
    also matches `BadgeNo` and `badge-no`)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._extra = frozenset("".join(key_words(name)) for name in extra)

    def __call__(self, key: str) -> bool:
        """True when `key` names a credential or one of the user's keys."""
        if is_secret_key(key):
            return True
        return bool(self._extra) and "".join(key_words(key)) in self._extra
