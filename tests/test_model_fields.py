"""The fast model dump writes exactly what `model_dump(serialize_as_any=True)` writes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    SecretStr,
    computed_field,
    field_serializer,
    model_serializer,
)

from parquet_logger.encode.model_fields import dump_model
from parquet_logger.encode.safe_json import safe_json


def via_model_dump(obj: object) -> Any:
    """The reference: every model through model_dump, secrets masked as safe_json does."""

    def default(value: object) -> object:
        if isinstance(value, BaseModel):
            return value.model_dump(serialize_as_any=True, warnings=False)
        if isinstance(value, SecretStr):
            return "***"
        raise TypeError(type(value).__name__)

    return orjson.loads(orjson.dumps(obj, default=default))


def via_safe_json(obj: object) -> Any:
    data, cut = safe_json(obj, 1 << 20)
    assert cut is None
    return orjson.loads(data)


def ai_message() -> AIMessage:
    return AIMessage(
        content="The refund was approved.",
        additional_kwargs={"refusal": None},
        response_metadata={"token_usage": {"prompt_tokens": 12}, "model_name": "gpt-4o-mini"},
        id="lc_run--1",
        tool_calls=[{"name": "lookup", "args": {"order": 7}, "id": "call_1", "type": "tool_call"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
    )


LANGCHAIN_OBJECTS = {
    "human message": HumanMessage(content="hi", name="ann"),
    "ai message with tool calls and usage": ai_message(),
    "ai message chunk": AIMessageChunk(content="par", id="c1"),
    "tool message": ToolMessage(content="42", tool_call_id="call_1"),
    "llm result": LLMResult(
        generations=[[ChatGeneration(message=ai_message(), generation_info={"a": 1})]],
        llm_output={"token_usage": {"total_tokens": 17}},
    ),
    "generation chunk": ChatGenerationChunk(message=AIMessageChunk(content="x")),
    "document": Document(page_content="text", metadata={"source": "a.txt"}, id="d1"),
    "agent action": AgentAction(tool="search", tool_input={"q": "x"}, log="thinking"),
    "agent finish": AgentFinish(return_values={"output": "done"}, log="done"),
}


@pytest.mark.parametrize("obj", LANGCHAIN_OBJECTS.values(), ids=LANGCHAIN_OBJECTS.keys())
def test_langchain_objects_are_written_as_model_dump_writes_them(obj: BaseModel) -> None:
    assert via_safe_json(obj) == via_model_dump(obj)
    # and they take the fast path: the dump is the instance's own field dict, not a copy
    assert dump_model(obj) is obj.__dict__


class WithExtra(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int = 1


class Computed(BaseModel):
    a: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def doubled(self) -> int:
        return 2 * self.a


class FieldSerialized(BaseModel):
    a: int = 1

    @field_serializer("a")
    def _a(self, value: int) -> str:
        return f"a={value}"


class ModelSerialized(BaseModel):
    a: int = 1

    @model_serializer
    def _all(self) -> dict[str, Any]:
        return {"custom": self.a}


class Excluded(BaseModel):
    a: int = 1
    hidden: str = Field(default="not written", exclude=True)


class WithSecret(BaseModel):
    key: SecretStr = SecretStr("sk-real")
    n: int = 3


class Root(RootModel[list[int]]):
    pass


class OwnDump(BaseModel):
    a: int = 1

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        return {"mine": True}


class Outer(BaseModel):
    inner: BaseModel  # declared as the base class: serialize_as_any keeps subclass fields
    items: list[WithExtra] = []


CUSTOM_MODELS = {
    "extra fields": (WithExtra(a=2, b="extra"), {"a": 2, "b": "extra"}),  # type: ignore[call-arg]
    "computed field": (Computed(a=2), {"a": 2, "doubled": 4}),
    "field serializer": (FieldSerialized(), {"a": "a=1"}),
    "model serializer": (ModelSerialized(), {"custom": 1}),
    "excluded field": (Excluded(), {"a": 1}),
    "secret field": (WithSecret(), {"key": "***", "n": 3}),
    "root model": (Root([1, 2]), [1, 2]),
    "own model_dump": (OwnDump(), {"mine": True}),
    "subclass in a base-typed field": (
        Outer(inner=Computed(a=3), items=[WithExtra(a=4)]),
        {"inner": {"a": 3, "doubled": 6}, "items": [{"a": 4}]},
    ),
}


@pytest.mark.parametrize("case", CUSTOM_MODELS.values(), ids=CUSTOM_MODELS.keys())
def test_models_that_serialize_their_own_way_keep_it(case: tuple[BaseModel, Any]) -> None:
    model, expected = case
    assert via_safe_json(model) == expected
