"""No secret reaches disk (issue #12, items 7-8).

Each scenario puts fresh secrets where a real program would; all scenarios run once, into one
log directory, and then every byte written — the Parquet files (decoded), the state folder
(the writer's log included) and the ring itself — is searched for each secret.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from parquet_logger import EventType, ParquetLogger
from parquet_logger.transport.statedir import StateDir
from tests import fake_openai
from tests.support import stop_writer


def new_secret(kind: str = "plain") -> str:
    """A fresh credential-shaped value, so a hit can only come from its own scenario."""
    token = secrets.token_hex(16)
    return {
        "openai": f"sk-{token}",
        "openai_project": f"sk-proj-{token}",
        "anthropic": f"sk-ant-api03-{token}",
        "aws": "AKIA" + secrets.token_hex(8).upper(),
        "github": f"ghp_{secrets.token_hex(18)}",
        "jwt": f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx{token}.c2ln{token[:10]}",
        "plain": f"plain-{token}",
    }[kind]


@dataclass
class Scenario:
    """Secrets that `act(logger)` hands to LangChain, with the logger options it needs."""

    secrets: list[str]
    act: Callable[[ParquetLogger], Any]
    options: dict[str, Any] = field(default_factory=dict)
    kept: list[bytes] = field(default_factory=list)  # what must still be there


def invoke(prompt: str = "hi", **config: Any) -> Callable[[ParquetLogger], None]:
    def act(logger: ParquetLogger) -> None:
        model = FakeListChatModel(responses=["ok"])
        model.invoke(prompt, config=cast(RunnableConfig, {"callbacks": [logger], **config}))

    return act


KEY_NAMES = [
    "token", "Token", "key", "Auth", "bearer", "session", "sig", "pass", "pwd", "apiKeys",
    "api_keys", "subscription_key", "Ocp-Apim-Subscription-Key", "account_key", "AccountKey",
    "connection_string", "api_key", "x-api-key", "Authorization", "client_secret",
]  # fmt: skip
SHAPES = ["openai", "openai_project", "anthropic", "aws", "github", "jwt"]


def key_name(name: str) -> Scenario:
    secret = new_secret()
    return Scenario([secret], invoke(metadata={"cfg": {name: secret}}))


def shaped(kind: str) -> Scenario:
    secret = new_secret(kind)
    return Scenario([secret], invoke(prompt=f"my key is {secret}, use it"), kept=[b"my key is"])


def tool_input_and_error() -> Scenario:
    secret = new_secret("openai")

    @tool
    def lookup(query: str, api_key: str) -> str:
        """Look something up."""
        raise ValueError(f"rejected api_key={api_key} for {query}")

    def act(logger: ParquetLogger) -> None:
        with pytest.raises(ValueError, match="rejected"):
            lookup.invoke({"query": "q", "api_key": secret}, config={"callbacks": [logger]})

    return Scenario([secret], act, kept=[b"tool_error"])


def llm_error() -> Scenario:
    secret = new_secret("anthropic")

    class Failing(FakeListChatModel):
        def _call(self, *args: Any, **kwargs: Any) -> str:
            raise RuntimeError(f"401 invalid x-api-key {secret}")

    def act(logger: ParquetLogger) -> None:
        with pytest.raises(RuntimeError):
            Failing(responses=["x"]).invoke("hi", config={"callbacks": [logger]})

    return Scenario([secret], act, kept=[b"llm_error"])


def chat_openai(base_url: str) -> Scenario:
    from langchain_openai import ChatOpenAI

    header, query, api_key = new_secret(), new_secret(), new_secret("openai")
    llm = ChatOpenAI(
        model="gpt-4o-mini",
        api_key=api_key,  # type: ignore[arg-type]
        base_url=f"{base_url}?api_key={api_key}",
        default_headers={"Token": header},
        default_query={"key": query},
        max_retries=0,
    )

    def act(logger: ParquetLogger) -> None:
        # The client appends its path after base_url's query, so the call fails with a 404
        # whose message quotes the query: the llm_error row must not leak it either.
        with pytest.raises(Exception, match="404"):
            llm.invoke("hi", {"callbacks": [logger]})

    return Scenario([header, query, api_key], act, kept=[b"llm_error"])


def users_own_names_and_patterns() -> Scenario:
    ssn, badge = f"{secrets.randbelow(900) + 100}-45-6789", new_secret()
    return Scenario(
        [ssn, badge],
        invoke(prompt=f"ssn {ssn}", metadata={"badge_no": badge}),
        {"redact_keys": ["badge_no"], "redact_patterns": [r"\b\d{3}-\d{2}-\d{4}\b"]},
    )


def hashing_hook() -> Scenario:
    body = f"patient {uuid.uuid4()} has a rash"

    def hash_text(path: tuple[str, ...], value: str) -> str:
        if "patient" in value:
            return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
        return value

    digest = hashlib.sha256(body.encode()).hexdigest().encode()
    return Scenario([body], invoke(prompt=body), {"redact": hash_text}, kept=[digest])


def failing_hook() -> Scenario:
    body = f"secret plan {uuid.uuid4()}"

    def broken(path: tuple[str, ...], value: str) -> str:
        raise RuntimeError("hook bug")

    return Scenario([body], invoke(prompt=body), {"redact": broken}, kept=[b"redact hook failed"])


def scenarios(base_url: str) -> dict[str, Scenario]:
    headers_secret, url_secret, meta_secret, bearer = (new_secret() for _ in range(4))
    url_key, id_key, name_key = new_secret("openai"), new_secret("openai"), new_secret("github")
    table = {f"key name {n}": key_name(n) for n in KEY_NAMES}
    table |= {f"{kind} key in free text": shaped(kind) for kind in SHAPES}
    table |= {
        "bearer token in free text": Scenario(
            [bearer], invoke(prompt=f"header: Authorization: Bearer {bearer}")
        ),
        "headers as a list of pairs": Scenario(
            [headers_secret],
            invoke(
                metadata={
                    "headers": [
                        ["Authorization", f"Bearer {headers_secret}"],
                        ("X-Api-Key", headers_secret),
                        ["Accept", "text/plain"],
                    ]
                }
            ),
            kept=[b"text/plain"],
        ),
        "key in a url query": Scenario(
            [url_key, url_secret],
            invoke(
                metadata={
                    "base_url": f"https://proxy.example/v1?api_key={url_key}&t=a",
                    "dsn": f"postgresql://app:{url_secret}@db.example/x",
                }
            ),
            kept=[b"proxy.example", b"db.example"],
        ),
        "typed columns: custom id and run name": Scenario(
            [id_key, name_key],
            invoke(tags=[f"logger_custom_id:job {id_key}"], run_name=f"agent {name_key}"),
            kept=[b"job sk-***", b"agent ghp_***"],
        ),
        "logger_metadata": Scenario(
            [meta_secret], invoke(), {"logger_metadata": {"cfg": {"token": meta_secret}}}
        ),
        "tool input string and error": tool_input_and_error(),
        "llm error message and traceback": llm_error(),
        "ChatOpenAI headers, query and base_url": chat_openai(base_url),
        "user's own key names and patterns": users_own_names_and_patterns(),
        "redact hook hashing bodies": hashing_hook(),
        "redact hook that fails": failing_hook(),
    }
    return table


def everything_written(log_dir: Path, ring: Path) -> bytes:
    """Every byte the loggers and their writer left: Parquet values, state files, the ring."""
    chunks: list[bytes] = []
    for path in sorted(log_dir.rglob("*")):
        if path.is_file() and path.suffix == ".parquet":
            chunks.append(repr(pq.read_table(path).to_pylist()).encode("utf-8", "replace"))
        elif path.is_file():
            chunks.append(path.read_bytes())
    if ring.exists():
        chunks.append(ring.read_bytes())
    return b"\n".join(chunks)


@dataclass
class Outcome:
    table: dict[str, Scenario]
    written: bytes


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """Run every scenario (one logger each, one writer for all) and read back every byte."""
    log_dir = tmp_path_factory.mktemp("secrets") / "logs"
    server = cast(Generator[fake_openai.FakeOpenAI], fake_openai.running())
    fake = next(server)
    loggers: list[ParquetLogger] = []
    try:
        table = scenarios(fake.base_url)
        for scenario in table.values():
            options: dict[str, Any] = {"event_types": list(EventType), "flush_interval_s": 0.1}
            logger = ParquetLogger(log_dir, **options | scenario.options)
            loggers.append(logger)
            scenario.act(logger)
        for logger in loggers:
            logger.flush(timeout=60)
        assert sum(lg.stats()["callback_failures"] for lg in loggers) == 0
        # Only the failing hook's scenario counts (once per string it was given).
        assert [lg.stats()["redact_hook_failures"] > 0 for lg in loggers] == [
            name == "redact hook that fails" for name in table
        ]
        yield Outcome(table, everything_written(log_dir, StateDir.for_log_dir(log_dir).shm_ring))
    finally:
        for logger in loggers:
            logger.close(timeout=30)
        server.close()
        stop_writer(log_dir)


NAMES = list(scenarios("http://127.0.0.1:9/v1"))


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_reaches_disk(outcome: Outcome, name: str) -> None:
    """The scenario's secrets are nowhere in what was written; what it must keep is there."""
    scenario = outcome.table[name]
    for secret in scenario.secrets:
        assert secret.encode() not in outcome.written, f"{name}: {secret} reached disk"
    for kept in scenario.kept:
        assert kept in outcome.written, f"{name}: {kept!r} is missing"
