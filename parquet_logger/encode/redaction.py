"""Replace secrets with "***" before anything reaches disk: the one redaction.

A `Redactor` (one per logger, built from its options) does three things:
- `scrub`, the tree walk over the containers handed to `safe_json`: the value of a key that
  names a credential (`secret_keys`), the second item of a `[name, value]` pair whose name
  does (headers as a list of pairs), and LangChain's serialized SecretStr marker
  (`{"lc": 1, "type": "secret", "id": [...]}`) become "***". It looks at keys only, so its
  cost follows the number of keys, not the length of the prompts;
- `mask_json`, over the encoded payload: values shaped like credentials wherever they are
  (prompts, outputs, tool input strings, exception messages: `secret_text`), and then, when the
  user gave any, their own patterns and their `redact(path, value)` hook on every string;
- `text`, for the typed columns (name, model, custom_id...): shapes and the user's patterns.

`json_redaction.redact_json` applies `scrub` to JSON bytes that were encoded without it.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from parquet_logger.encode.secret_keys import KeyRule, is_secret_key
from parquet_logger.encode.secret_text import MASK, CredentialText
from parquet_logger.warning_limiter import WarningLimiter

__all__ = ["DEFAULT", "REDACTED", "HookFailed", "RedactHook", "Redactor", "is_secret_key", "scrub"]

REDACTED = MASK
HOOK_FAILED = "redact hook failed"
RedactHook = Callable[[tuple[str, ...], str], str]
log = logging.getLogger("parquet_logger")

_MAX_LEARNED_KEYS = 65536  # keys made of data must not grow the caches forever
_MAX_LEARNED_TEXTS = 1024
_MAX_REPR_CHARS = 1 << 16  # a longer tool input string is left to the shape masks
# `'key': 'value'` (or with double quotes) in a Python repr; escapes inside the value skipped.
_QUOTED_PAIR = re.compile(r"""(['"])(\w[\w\-. ]*)\1(\s*:\s*)(['"])(?:[^'"\\]|\\.)*\4""")
_CONTAINERS = frozenset({dict, list, tuple})


class Redactor:
    """One logger's redaction: the built-in rules plus the user's options.

    Args:
        keys: more key names whose values are secret (compared by their words).
        patterns: more regexes (str or compiled) whose matches in any string are masked.
        hook: `hook(path, value) -> str` for every string of the payload, after the other
            rules; `path` is the keys (and list positions, as decimal strings) from the
            payload's root. If it raises or returns a non-str, the event's content is replaced
            by a marker (`"redact hook failed: <type>"`) and `hook_failures` counts it.
    """

    def __init__(
        self,
        keys: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = (),
        hook: RedactHook | None = None,
    ) -> None:
        self.is_secret_key = KeyRule(keys)
        self.shapes = CredentialText(self.is_secret_key)
        self.patterns = tuple(re.compile(p) for p in patterns)
        self.hook = hook
        self.hook_failures = 0
        self.json_default: Callable[[object], object] | None = None  # set by safe_json
        self._texts: dict[str, str] = {}  # typed columns' values repeat (model, name)
        self._secret_keys: dict[str, bool] = {}
        # Keys judged not secret: lets scrub clear a whole dict with one C-level subset test.
        self._safe_keys: set[str] = set()
        self._warnings = WarningLimiter(log)

    # ------------------------------------------------------------------ the tree walk
    def scrub(self, obj: Any) -> Any:
        """Return obj with secret values replaced, copying only the containers that change.

        `safe_json` scrubs the plain containers it is given, and `convert.default` every dict
        it converts an object into. A dict whose keys are all known to be safe and that holds
        no container is cleared without a Python loop (the subset and disjoint tests run in
        C): most dicts of an LLM event are like that.
        """
        kind = type(obj)
        if kind is dict:
            if not obj:
                return obj
            if "lc" in obj and obj.get("type") == "secret":
                return REDACTED
            if obj.keys() <= self._safe_keys:
                if _CONTAINERS.isdisjoint(map(type, obj.values())):
                    return obj
                return self._scrub_values(obj)
            return self._scrub_keys(obj)
        if kind is list or kind is tuple:
            if _CONTAINERS.isdisjoint(map(type, obj)):
                return obj
            return self._scrub_items(obj)
        return obj

    def _scrub_items(self, obj: list[Any] | tuple[Any, ...]) -> Any:
        """scrub of a list or tuple holding containers; a `[name, value]` pair whose name is
        a secret key (a header given as a pair) keeps its name only."""
        items: list[Any] | None = None
        for i, value in enumerate(obj):
            if type(value) in _CONTAINERS and value:
                new = self._secret_pair(value)
                if new is None:
                    new = self.scrub(value)
                if new is not value:
                    if items is None:
                        items = list(obj)
                    items[i] = new
        if items is None:
            return obj
        return tuple(items) if type(obj) is tuple else items

    def _secret_pair(self, value: Any) -> Any:
        """`[name, "***"]` for a pair whose name is a secret key, else None."""
        if type(value) is dict or len(value) != 2 or type(value[0]) is not str:
            return None
        if not self._judge(value[0]) or value[1] == REDACTED:
            return None
        return (value[0], REDACTED) if type(value) is tuple else [value[0], REDACTED]

    def scrub_inside(self, obj: dict[Any, Any]) -> dict[Any, Any]:
        """scrub of what a dict holds, its own keys not judged: for the payload's `data` and
        `raw`, whose keys are the schema's and LangChain's argument names (an
        `llm_new_token` event's `token` is text the model wrote, not a credential)."""
        return self._scrub_values(obj)

    def _scrub_values(self, obj: dict[Any, Any]) -> dict[Any, Any]:
        """scrub of a dict none of whose keys is secret: only its containers can change."""
        copy: dict[Any, Any] | None = None
        for key, value in obj.items():
            if type(value) in _CONTAINERS and value:
                new = self.scrub(value)
                if new is not value:
                    if copy is None:
                        copy = dict(obj)
                    copy[key] = new
        return obj if copy is None else copy

    def _scrub_keys(self, obj: dict[Any, Any]) -> Any:
        """scrub of a dict with keys not judged yet (or secret, or not strings)."""
        known = self._secret_keys
        copy: dict[Any, Any] | None = None
        for key, value in obj.items():
            secret = known.get(key) if type(key) is str else False
            if secret is None:
                secret = self._learn_key(key)
            if secret:
                new: Any = REDACTED
            elif type(value) in _CONTAINERS and value:
                new = self.scrub(value)
                if new is value:
                    continue
            else:
                continue
            if copy is None:
                copy = dict(obj)
            copy[key] = new
        return obj if copy is None else copy

    def _judge(self, key: str) -> bool:
        secret = self._secret_keys.get(key)
        return self._learn_key(key) if secret is None else secret

    def _learn_key(self, key: str) -> bool:
        if len(self._secret_keys) > _MAX_LEARNED_KEYS:
            self._secret_keys.clear()
            self._safe_keys.clear()
        secret = self._secret_keys[key] = self.is_secret_key(key)
        if not secret:
            self._safe_keys.add(key)
        return secret

    # ------------------------------------------------------------------ text
    def mask_json(self, data: bytes, *, hook: bool = True) -> bytes:
        """Encoded JSON with credential shapes masked, then the user's patterns (and, with
        `hook`, the hook) applied to each string; `data` itself when nothing changed.

        Raises:
            HookFailed: the hook raised or returned something else than a str.
        """
        data = self.shapes.mask_bytes(data)
        if not self.patterns and (self.hook is None or not hook):
            return data
        tree = orjson.loads(data)
        new = self._user_text(tree, (), self.hook if hook else None)
        return data if new is tree else orjson.dumps(new)

    def text(self, value: str, *, remember: bool = True) -> str:
        """A typed column's string with credential shapes and the user's patterns masked.

        Args:
            value: the column's text.
            remember: cache the answer: for values that repeat (a model's name), not for
                ones unique to a run (a custom id), which would only fill the cache.
        """
        known = self._texts.get(value)
        if known is not None:
            return known
        masked = self.shapes.mask_str(value)
        for pattern in self.patterns:
            masked = pattern.sub(REDACTED, masked)
        if remember:
            if len(self._texts) >= _MAX_LEARNED_TEXTS:
                self._texts.clear()
            self._texts[value] = masked
        return masked

    def repr_text(self, text: str) -> str:
        """The Python repr of a dict (a tool's `input_str`: LangChain passes `str(inputs)`)
        with secret keys' values masked; `text` itself when nothing was secret.

        A literal repr is parsed (`ast.literal_eval`, which runs no code), scrubbed and
        rendered again; any other text gets its `'key': 'value'` pairs judged one by one.
        """
        if not text.startswith("{") or len(text) > _MAX_REPR_CHARS:
            return text
        try:
            value = ast.literal_eval(text)
        except Exception:  # not a literal (an object's repr inside), or too deep
            return _QUOTED_PAIR.sub(self._quoted_pair, text)
        scrubbed = self.scrub(value)
        return text if scrubbed is value else repr(scrubbed)

    def _quoted_pair(self, match: re.Match[str]) -> str:
        if not self._judge(match[2]):
            return match[0]
        return f"{match[1]}{match[2]}{match[1]}{match[3]}{match[4]}{REDACTED}{match[4]}"

    def hook_failed(self, exc: BaseException) -> str:
        """Count a failed hook call, warn (rate-limited), and return the content's marker."""
        self.hook_failures += 1
        # Only the type name: the message may quote the value the hook was given.
        marker = f"{HOOK_FAILED}: {type(exc).__name__}"
        self._warnings.warn(
            HOOK_FAILED,
            "parquet-logger: %s; the event is stored with its content replaced "
            "(%d hook failure(s) so far)",
            marker,
            self.hook_failures,
        )
        return marker

    def _user_text(self, obj: Any, path: tuple[str, ...], hook: RedactHook | None) -> Any:
        """A decoded JSON tree with the user's patterns and hook applied to its strings."""
        kind = type(obj)
        if kind is str:
            return self._user_string(obj, path, hook)
        if kind is dict:
            copy: dict[str, Any] | None = None
            for key, value in obj.items():
                new = self._user_text(value, (*path, key), hook)
                if new is not value:
                    copy = dict(obj) if copy is None else copy
                    copy[key] = new
            return obj if copy is None else copy
        if kind is list:
            items: list[Any] | None = None
            for i, value in enumerate(obj):
                new = self._user_text(value, (*path, str(i)), hook)
                if new is not value:
                    items = list(obj) if items is None else items
                    items[i] = new
            return obj if items is None else items
        return obj

    def _user_string(self, value: str, path: tuple[str, ...], hook: RedactHook | None) -> str:
        new = value
        for pattern in self.patterns:
            new = pattern.sub(REDACTED, new)
        if hook is not None:
            try:
                hooked = hook(path, new)
            except Exception as exc:
                raise HookFailed(exc) from exc
            if not isinstance(hooked, str):
                raise HookFailed(TypeError(f"hook returned {type(hooked).__name__}"))
            new = hooked
        return value if new == value else new


class HookFailed(Exception):
    """The user's redact hook raised (or returned a non-str) for some string."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


DEFAULT = Redactor()
scrub = DEFAULT.scrub
