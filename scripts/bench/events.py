"""The benchmark's events: seeded, realistic LangChain chat-model calls, identical for both
loggers, and the loops that play them into a handler exactly as LangChain calls it.

Spawned workers import this module: it stays off LangChain's heavier modules (the model
whose `serialized` the events carry lives in model.py)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, LLMResult

MODEL = "gpt-4o-mini"
CUSTOM_ID_PREFIX = "logger_custom_id:"  # both packages' with_tags write this tag
TEMPLATES = 64  # distinct prompts/answers; runs cycle through them
OPTIONS = {"stop": None}
_WORDS = (
    *("invoice", "customer", "refund", "shipment", "order", "account", "policy", "warranty"),
    *("delivery", "address", "payment", "card", "subscription", "renewal", "discount"),
    *("coupon", "ticket", "escalation", "summary", "priority", "the", "a", "of", "to", "and"),
    *("in", "for", "with", "on", "is", "that", "by", "this", "be", "are", "from", "or", "as"),
    *("at", "it", "an", "was"),
)


@dataclass(frozen=True)
class Template:
    """One distinct call: its messages, metadata, invocation params and response."""

    messages: list[list[BaseMessage]]
    metadata: dict[str, Any]
    invocation_params: dict[str, Any]
    response: LLMResult


@dataclass(frozen=True)
class Run:
    """One LLM call of the benchmark: a chat_model_start and an llm_end event."""

    run_id: UUID
    tags: list[str]
    template: Template


def _text(rng: random.Random, n_chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < n_chars:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:n_chars]


def make_templates(seed: int, count: int = TEMPLATES) -> list[Template]:
    """`count` seeded calls: ~1 KB of prompt, a ~400-character answer, usage and metadata."""
    rng = random.Random(seed)
    templates = []
    for i in range(count):
        system = SystemMessage(content=_text(rng, 250))
        human = HumanMessage(content=f"Ticket {i}: " + _text(rng, 760))
        answer = _text(rng, 400)
        prompt_tokens, completion_tokens = 240 + rng.randrange(40), 90 + rng.randrange(30)
        usage = {
            "completion_tokens": completion_tokens,
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        response_id = f"chatcmpl-{rng.getrandbits(96):024x}"
        response_metadata = {
            "token_usage": usage,
            "model_name": f"{MODEL}-2024-07-18",
            "system_fingerprint": "fp_0ba0d124f1",
            "id": response_id,
            "service_tier": "default",
            "finish_reason": "stop",
            "logprobs": None,
            "model_provider": "openai",
        }
        message = AIMessage(
            content=answer,
            additional_kwargs={"refusal": None},
            response_metadata=response_metadata,
            id=f"lc_run--{rng.getrandbits(128):032x}-0",
            usage_metadata={
                "input_tokens": prompt_tokens,
                "output_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "input_token_details": {"audio": 0, "cache_read": 0},
                "output_token_details": {"audio": 0, "reasoning": 0},
            },
        )
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": "stop", "logprobs": None}
        )
        llm_output = {
            "token_usage": usage,
            "model_name": f"{MODEL}-2024-07-18",
            "system_fingerprint": "fp_0ba0d124f1",
            "id": response_id,
            "service_tier": "default",
        }
        templates.append(
            Template(
                messages=[[system, human]],
                metadata={
                    "ls_provider": "openai",
                    "ls_model_name": MODEL,
                    "ls_model_type": "chat",
                    "ls_temperature": 0.2,
                    "ls_integration": "langchain_chat_model",
                    "lc_versions": {"langchain-core": "1.8.3"},
                    "job": "bench",
                    "row": i,
                },
                invocation_params={
                    "model": MODEL,
                    "model_name": MODEL,
                    "stream": False,
                    "n": 1,
                    "temperature": 0.2,
                    "_type": "openai-chat",
                    "stop": None,
                },
                response=LLMResult(generations=[[generation]], llm_output=llm_output),
            )
        )
    return templates


def custom_id_tags(custom_id: str) -> list[str]:
    """The tags of `with_tags(custom_id=...)` (checked against both packages at start-up)."""
    return [f"{CUSTOM_ID_PREFIX}{custom_id}"]


def make_runs(seed: int, count: int, templates: Sequence[Template], prefix: str) -> list[Run]:
    """`count` runs with seeded unique run ids and custom ids `<prefix>-<n>`."""
    rng = random.Random(seed ^ 0x5EED)
    return [
        Run(
            run_id=UUID(int=rng.getrandbits(128), version=4),
            tags=custom_id_tags(f"{prefix}-{i}"),
            template=templates[i % len(templates)],
        )
        for i in range(count)
    ]


class Player:
    """Plays runs into a handler with LangChain's exact arguments (one `serialized` object
    for every call, as LangChain caches it per model)."""

    def __init__(self, serialized: dict[str, Any]) -> None:
        self.serialized = serialized

    def play(self, handler: BaseCallbackHandler, runs: Sequence[Run]) -> None:
        """Two events per run, untimed."""
        start, end, serialized = handler.on_chat_model_start, handler.on_llm_end, self.serialized
        for run in runs:
            t = run.template
            start(
                serialized,
                t.messages,
                run_id=run.run_id,
                parent_run_id=None,
                tags=run.tags,
                metadata=t.metadata,
                invocation_params=t.invocation_params,
                options=OPTIONS,
                name=None,
                batch_size=1,
            )
            end(t.response, run_id=run.run_id, parent_run_id=None, tags=run.tags)

    def play_timed(self, handler: BaseCallbackHandler, runs: Sequence[Run]) -> list[int]:
        """Two events per run; returns each call's latency in ns (start, end, start, ...)."""
        start, end, serialized = handler.on_chat_model_start, handler.on_llm_end, self.serialized
        clock: Callable[[], int] = time.perf_counter_ns
        latencies = [0] * (2 * len(runs))
        j = 0
        for run in runs:
            t = run.template
            t0 = clock()
            start(
                serialized,
                t.messages,
                run_id=run.run_id,
                parent_run_id=None,
                tags=run.tags,
                metadata=t.metadata,
                invocation_params=t.invocation_params,
                options=OPTIONS,
                name=None,
                batch_size=1,
            )
            t1 = clock()
            end(t.response, run_id=run.run_id, parent_run_id=None, tags=run.tags)
            t2 = clock()
            latencies[j] = t1 - t0
            latencies[j + 1] = t2 - t1
            j += 2
        return latencies


class NoOpHandler(BaseCallbackHandler):
    """A handler that does nothing: the baseline cost of LangChain's dispatch (and of our
    own playing loop)."""

    # The cheapest a handler can be: no hop to an executor thread in async runs (ours is
    # inline too; a handler without it costs LangChain a thread hop per callback).
    run_inline = True

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_llm_end(self, *args: Any, **kwargs: Any) -> None:
        return None


def chat_inputs(seed: int, count: int = TEMPLATES) -> list[list[BaseMessage]]:
    """Seeded ~1 KB prompts for invoking a chat model through LangChain."""
    return [t.messages[0] for t in make_templates(seed, count)]


def fake_responses(seed: int, count: int = 1) -> list[str]:
    """Answers for FakeListChatModel. One: the model puts its whole list into `serialized`
    (its repr) and `invocation_params` of every call, which no real model does."""
    rng = random.Random(seed ^ 0xFACE)
    return [_text(rng, 400) for _ in range(count)]
