"""Real LangChain runs for the read tests: fake chat models from langchain_core that report a
model name and usage like a provider does, a chain, a tool, a stream and a failure."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from parquet_logger import EventType, ParquetLogger, with_tags

ALL_EVENTS = list(EventType)
PRICED_MODEL = "gpt-4o-mini"
UNPRICED_MODEL = "acme-local-7b"


def reply(text: str, model: str, tokens_in: int, tokens_out: int, cached: int = 0) -> AIMessage:
    """An answer as a provider gives it: usage_metadata with details, the model's name."""
    usage: dict[str, Any] = {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
        "input_token_details": {"cache_read": cached},
    }
    return AIMessage(content=text, usage_metadata=usage, response_metadata={"model_name": model})


class FailingChatModel(GenericFakeChatModel):
    """A chat model whose provider times out."""

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("the provider did not answer in time")


@tool
def lookup_order(order_id: int) -> str:
    """Look an order up."""
    return f"order {order_id}: shipped"


def run_workload(logger: ParquetLogger) -> None:
    """Log: a chain (prompt, priced chat model with cache reads, parser) for custom id
    "q1"; a tool call; a call of an unpriced model for "q2"; a failed call for "q3"; a
    streamed call for "q4"."""
    model = GenericFakeChatModel(
        messages=iter([reply("Paris is the capital.", PRICED_MODEL, 1000, 200, cached=400)])
    )
    prompt = ChatPromptTemplate.from_messages([("user", "What is the capital of {country}?")])
    chain = prompt | model | StrOutputParser()
    chain.invoke({"country": "France"}, config=with_tags(custom_id="q1", config=_cb(logger)))
    lookup_order.invoke({"order_id": 7}, config=_cb(logger))
    unpriced = GenericFakeChatModel(messages=iter([reply("Hi.", UNPRICED_MODEL, 50, 3)]))
    unpriced.invoke("hello", config=with_tags(custom_id="q2", config=_cb(logger)))
    failing = FailingChatModel(messages=iter([]))
    try:
        failing.invoke("hello?", config=with_tags(custom_id="q3", config=_cb(logger)))
    except TimeoutError:
        pass
    else:
        raise AssertionError("the failing model did not fail")
    streaming = GenericFakeChatModel(messages=iter([AIMessage(content="one two three")]))
    chunks = list(streaming.stream("count", config=with_tags(custom_id="q4", config=_cb(logger))))
    assert len(chunks) > 1, "the fake model did not stream"


def _cb(logger: ParquetLogger) -> RunnableConfig:
    return {"callbacks": [logger]}
