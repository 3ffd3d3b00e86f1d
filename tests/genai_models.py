"""A LangChain chat model that answers with a recorded provider response, for the typed
columns' tests: it runs through LangChain's own invoke/stream machinery (callbacks, run ids,
invocation params, LangSmith metadata), and hands LangChain the response metadata, usage
metadata, generation info and llm_output a real integration would."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

FIXTURES = Path(__file__).parent / "fixtures" / "provider_responses.json"


def provider_responses() -> dict[str, dict[str, Any]]:
    """The recorded shapes by name (tests/fixtures/provider_responses.json)."""
    loaded: dict[str, dict[str, Any]] = json.loads(FIXTURES.read_text())
    return {name: shape for name, shape in loaded.items() if not name.startswith("_")}


class RecordedChatModel(BaseChatModel):
    """Answers `text` with the recorded metadata; streams it word by word, the last chunk
    carrying the usage (as OpenAI's `stream_options.include_usage` does); raises `fail`."""

    text: str = "a recorded answer"
    ls_provider: str = "openai"
    llm_type: str = "openai-chat"
    params: dict[str, Any] = Field(default_factory=dict)
    response_metadata: dict[str, Any] = Field(default_factory=dict)
    usage_metadata: dict[str, Any] | None = None
    generation_info: dict[str, Any] | None = None
    llm_output: dict[str, Any] | None = None
    fail: str | None = None

    @classmethod
    def of(cls, shape: dict[str, Any], **overrides: Any) -> RecordedChatModel:
        """The model of one recorded shape of `provider_responses()`."""
        fields = {
            "ls_provider": shape["ls_provider"],
            "llm_type": shape["llm_type"],
            "params": shape.get("invocation_params", {}),
            "response_metadata": shape.get("response_metadata", {}),
            "usage_metadata": shape.get("usage_metadata"),
            "generation_info": shape.get("generation_info"),
            "llm_output": shape.get("llm_output"),
        }
        return cls(**{**fields, **overrides})

    @property
    def _llm_type(self) -> str:
        return self.llm_type

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return dict(self.params)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(ls_provider=self.ls_provider, ls_model_type="chat")
        model = self.params.get("model") or self.params.get("model_id")
        if isinstance(model, str):
            params["ls_model_name"] = model
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.fail:
            raise RuntimeError(self.fail)
        message = AIMessage(
            content=self.text,
            response_metadata=copy.deepcopy(self.response_metadata),
            usage_metadata=copy.deepcopy(self.usage_metadata),
        )
        generation = ChatGeneration(message=message, generation_info=self.generation_info)
        return ChatResult(generations=[generation], llm_output=copy.deepcopy(self.llm_output))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        words = self.text.split(" ")
        for i, word in enumerate(words):
            if self.fail and i == 1:
                raise RuntimeError(self.fail)
            piece = word if i == 0 else " " + word
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        last = AIMessageChunk(
            content="",
            response_metadata=copy.deepcopy(self.response_metadata),
            usage_metadata=copy.deepcopy(self.usage_metadata),  # type: ignore[arg-type]
        )
        yield ChatGenerationChunk(message=last, generation_info=self.generation_info)
