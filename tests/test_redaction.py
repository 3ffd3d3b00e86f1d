"""redaction: which keys are secret, that secrets never survive, that clean input is untouched."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.load import dumpd
from langchain_core.load.serializable import Serializable

from parquet_logger.encode.json_redaction import redact_json
from parquet_logger.encode.redaction import REDACTED, is_secret_key, scrub
from parquet_logger.encode.safe_json import safe_json
from parquet_logger.encode.shrink import shrink


class FakeChatModel(Serializable):
    """A LangChain serializable with a secret, serialized the way LangChain serializes models."""

    model_name: str = "fake-1"
    api_key: str = "sk-live-SECRET"
    max_tokens: int = 256

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "FAKE_API_KEY"}

    lc_attributes: ClassVar[dict[str, Any]] = {}


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "API_KEY",
        "apikey",
        "apiKey",
        "openai_api_key",
        "OPENAI_API_KEY",
        "x-api-key",
        "access_token",
        "hf_token",
        "HF_TOKEN",
        "refreshToken",
        "password",
        "db_password",
        "passwd",
        "client_secret",
        "secret",
        "private_key",
        "privateKey",
        "aws_access_key_id",
        "Authorization",
        "proxy-authorization",
        "credentials",
        "google_application_credentials",
        "cookie",
        "Set-Cookie",
        # issue #12: names the first rule missed
        *("token", "Token", "key", "Auth", "bearer", "session", "sig", "pass", "pwd"),
        *("apiKeys", "api_keys", "subscription_key", "Ocp-Apim-Subscription-Key"),
        *("account_key", "AccountKey", "connection_string", "ConnectionString", "x-api-key"),
        *("sessionToken", "X-Amz-Security-Token", "auth_token", "db_pass"),
    ],
)
def test_secret_keys(key: str) -> None:
    """Credential-like keys are secret in any case, snake, camel or kebab spelling."""
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "total_tokens",
        "input_tokens",
        "output_tokens",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "token_usage",
        "tokens",
        "maxTokens",
        "max_token",
        "eos_token",
        "keys",
        "key_name",
        "cache_key",
        "sort_key",
        "primary_key",
        "cache_key_prefix",
        "session_id",
        "passage",
        "signal",
        "model_name",
        "type",
        "lc",
        "prompt",
        "",
        "_",
    ],
)
def test_ordinary_keys(key: str) -> None:
    """Token counts, data keys (`cache_key`, `keys`), `session_id` and ordinary fields are
    not secret: the rule judges words, not substrings."""
    assert not is_secret_key(key)


def test_nested_secret_keys_in_lists() -> None:
    """Secret keys in dicts inside lists inside dicts are redacted, whatever the value type."""
    payload = {
        "runs": [
            {"name": "a", "headers": {"Authorization": "Bearer abc", "accept": "json"}},
            {"name": "b", "config": [{"hf_token": "hf_xyz"}, {"password": {"nested": "pw"}}]},
            {"api_key": ["k1", "k2"], "credential": None, "n": 3},
        ]
    }
    redacted = orjson.loads(redact_json(orjson.dumps(payload)))
    assert redacted == {
        "runs": [
            {"name": "a", "headers": {"Authorization": REDACTED, "accept": "json"}},
            {"name": "b", "config": [{"hf_token": REDACTED}, {"password": REDACTED}]},
            {"api_key": REDACTED, "credential": REDACTED, "n": 3},
        ]
    }


def test_langchain_serialized_model_secret_marker() -> None:
    """A real LangChain serialized model: its secret marker dict becomes "***" as a whole."""
    serialized = dumpd(FakeChatModel())
    assert serialized["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["FAKE_API_KEY"]}
    data = orjson.dumps({"serialized": serialized})
    redacted = orjson.loads(redact_json(data))
    assert redacted["serialized"]["kwargs"] == {
        "model_name": "fake-1",
        "api_key": REDACTED,
        "max_tokens": 256,
    }
    assert b"FAKE_API_KEY" not in redact_json(data)
    assert orjson.loads(safe_json({"serialized": serialized}, 1 << 20)[0]) == redacted


def test_secret_marker_under_an_innocent_key() -> None:
    """The marker is recognised by its shape, not by the key that holds it."""
    payload = {"llm": {"client": {"lc": 1, "type": "secret", "id": ["MY_ENV"]}, "n": 1}}
    assert orjson.loads(redact_json(orjson.dumps(payload))) == {"llm": {"client": REDACTED, "n": 1}}


def test_token_counts_untouched() -> None:
    """max_tokens, total_tokens, token_usage and the keys list keep their values."""
    tree = {"max_tokens": 5, "token_usage": {"total_tokens": 9}, "keys": ["a"], "key_name": "k"}
    data = orjson.dumps(tree)
    assert redact_json(data) is data
    assert scrub(tree) is tree


def test_clean_input_returned_unchanged() -> None:
    """With nothing secret, the very same bytes object comes back."""
    data = safe_json({"prompt": "What is 2+2?", "model": "gpt-4o", "n": [1, 2]}, 4096)[0]
    assert redact_json(data) is data


def test_prompt_mentioning_password_is_data() -> None:
    """Words like password or api key inside a prompt are not keys: the bytes are unchanged."""
    data = orjson.dumps({"prompt": "My password is hunter2 and my api_key is secret cookie"})
    assert redact_json(data) is data


def test_string_value_that_looks_like_a_key() -> None:
    """A value containing `"api_key":` as text (escaped quotes) is left alone."""
    data = orjson.dumps({"tool_input": '{"api_key": "x"}'})
    assert redact_json(data) is data


def test_truncated_prefix_is_redacted_as_text() -> None:
    """When shrink kept only a JSON prefix, secret values inside that text are still replaced."""
    payload = [{"api_key": "sk-live-SECRET", "n": list(range(30))} for _ in range(500)]
    data = shrink(orjson.dumps(payload), 4096)
    assert b"sk-live-SECRET" in data
    redacted = redact_json(data)
    assert b"sk-live-SECRET" not in redacted
    text = orjson.loads(redacted)["$truncated_json_prefix"]
    assert text.startswith('[{"api_key":"***","n":[0,1,2')


def test_truncated_prefix_cut_inside_secret_value() -> None:
    """A prefix that ends inside a secret value loses the whole tail, not just part of it."""
    prefix = '{"a":1,"password":{"x":"abc}hunter2'
    data = orjson.dumps({"$truncated_json_prefix": prefix})
    redacted = orjson.loads(redact_json(data))["$truncated_json_prefix"]
    assert redacted == '{"a":1,"password":"***"'


def test_truncated_prefix_scalar_and_escaped_strings() -> None:
    """Keys are found only outside strings; scalars and escaped quotes are skipped correctly."""
    prefix = '{"note":"say \\"passwd\\": no","passwd":12345,"ok":"x\\\\","hf_token":"t"}'
    data = orjson.dumps({"$truncated_json_prefix": prefix})
    redacted = orjson.loads(redact_json(data))["$truncated_json_prefix"]
    assert (
        redacted == '{"note":"say \\"passwd\\": no","passwd":"***","ok":"x\\\\","hf_token":"***"}'
    )


def test_truncated_prefix_with_only_a_token_key() -> None:
    """A prefix whose only secret is a `_token` key (escaped as `token\\"`) is still redacted."""
    data = orjson.dumps({"$truncated_json_prefix": '{"hf_token":"hf_abc","n":[1,2'})
    assert orjson.loads(redact_json(data)) == {
        "$truncated_json_prefix": '{"hf_token":"***","n":[1,2'
    }


def test_invalid_json_fails_closed() -> None:
    """Bytes that are not JSON are replaced by an error marker, never passed through."""
    assert orjson.loads(redact_json(b'{"password": "x"')) == {"$redaction_error": "JSONDecodeError"}


def test_scrub_copies() -> None:
    """scrub returns a redacted copy and leaves its input alone."""
    metadata = {"team": "a", "db": {"password": "pw"}, "tags": ("x", {"secret": 1})}
    redacted = scrub(metadata)
    assert redacted == {
        "team": "a",
        "db": {"password": REDACTED},
        "tags": ("x", {"secret": REDACTED}),
    }
    assert metadata["db"] == {"password": "pw"}


_keys = st.one_of(
    st.sampled_from(
        [
            "api_key",
            "ApiKey",
            "x-api-key",
            "access_token",
            "accessToken",
            "token",
            "max_tokens",
            "Password",
            "client_secret",
            "privateKey",
            "AUTHORIZATION",
            "Credential",
            "cookie",
            "name",
            "text",
        ]
    ),
    st.text(max_size=8),
)
_trees = st.recursive(
    st.one_of(
        st.none(),
        st.integers(-(2**63), 2**63),
        st.text(max_size=10),
        st.sampled_from(["password", "key"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
        st.fixed_dictionaries({"lc": st.just(1), "type": st.just("secret"), "id": st.just(["E"])}),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, database=None)
@given(tree=_trees)
def test_redact_json_agrees_with_scrub(tree: Any) -> None:
    """The byte-level pre-check never skips a secret that the tree walk would redact."""
    data = orjson.dumps(tree)
    assert orjson.loads(redact_json(data)) == scrub(orjson.loads(data))


# Secret values are built from "Z" only, and nothing else contains a "Z": any "Z" in the
# output is a leak.
_SECRET_KEYS = ["api_key", "ApiKey", "x-api-key", "hf_token", "accessToken", "Password", "cookie"]
_PLAIN_KEYS = ["token", "max_tokens", "name", "text", "key"]
_no_z = st.text(st.characters(codec="utf-8", exclude_characters="Zz"), max_size=8)
_secret_values = st.recursive(
    st.one_of(st.just("ZZ"), st.just('Z"\\Z')),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.just("Zk"), children, max_size=2)
    ),
    max_leaves=5,
)


@st.composite
def _documents(draw: st.DrawFn) -> Any:
    """A JSON tree in which secret keys hold Z-only values."""
    leaves = st.one_of(st.none(), st.integers(-100, 100), _no_z)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        plain = st.dictionaries(
            st.one_of(st.sampled_from(_PLAIN_KEYS), _no_z), children, max_size=3
        )
        with_secret = st.builds(
            lambda d, k, v: {**d, k: v}, plain, st.sampled_from(_SECRET_KEYS), _secret_values
        )
        return st.one_of(st.lists(children, max_size=3), plain, with_secret)

    return draw(st.recursive(leaves, extend, max_leaves=20))


@settings(max_examples=300, deadline=None, database=None)
@given(tree=_documents(), cut=st.floats(0, 1))
def test_prefix_redaction_never_leaks(tree: Any, cut: float) -> None:
    """Whatever point a JSON prefix stops at, no secret character survives in it."""
    full = orjson.dumps(tree)
    prefix = full[: int(len(full) * cut)].decode("utf-8", "ignore")
    redacted = orjson.loads(redact_json(orjson.dumps({"$truncated_json_prefix": prefix})))
    assert "Z" not in redacted["$truncated_json_prefix"]
    if prefix == full.decode():
        assert orjson.loads(redacted["$truncated_json_prefix"]) == scrub(tree)
