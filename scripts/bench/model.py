"""The chat model whose `serialized` the benchmark's events carry: ChatOpenAI's shape, built
by LangChain's own `dumpd`. Apart from events.py so that spawned workers (which receive
the dict) never import LangChain's language-model modules."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.load import dumpd
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import Field, SecretStr

from scripts.bench.events import MODEL


class ChatOpenAI(BaseChatModel):
    """ChatOpenAI's serializable shape (namespace, fields, secret); `dumpd` of an instance is
    the `serialized` dict LangChain hands every callback of that model."""

    model_name: str = Field(default=MODEL, alias="model")
    temperature: float | None = None
    openai_api_key: SecretStr | None = Field(default=None, alias="api_key")
    max_retries: int | None = None
    request_timeout: float | None = Field(default=None, alias="timeout")

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain", "chat_models", "openai"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"openai_api_key": "OPENAI_API_KEY"}

    @property
    def _llm_type(self) -> str:
        return "openai-chat"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError("only serialized, never called")


def serialized_model() -> dict[str, Any]:
    """LangChain's `serialized` of a ChatOpenAI-shaped model (with its secret marker)."""
    model = ChatOpenAI(
        model=MODEL, temperature=0.2, api_key=SecretStr("sk-bench-not-a-key"), max_retries=3
    )
    serialized: dict[str, Any] = dumpd(model)
    assert serialized["kwargs"]["openai_api_key"]["type"] == "secret", serialized
    return serialized
