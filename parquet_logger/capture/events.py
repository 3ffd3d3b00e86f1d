"""The event types a logger can record, and which LangChain `ignore_*` switch gates each."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class EventType(StrEnum):
    """One LangChain callback (`on_<value>`) that can become a row."""

    LLM_START = "llm_start"
    CHAT_MODEL_START = "chat_model_start"
    LLM_NEW_TOKEN = "llm_new_token"
    LLM_END = "llm_end"
    LLM_ERROR = "llm_error"
    CHAIN_START = "chain_start"
    CHAIN_END = "chain_end"
    CHAIN_ERROR = "chain_error"
    TOOL_START = "tool_start"
    TOOL_END = "tool_end"
    TOOL_ERROR = "tool_error"
    AGENT_ACTION = "agent_action"
    AGENT_FINISH = "agent_finish"
    RETRIEVER_START = "retriever_start"
    RETRIEVER_END = "retriever_end"
    RETRIEVER_ERROR = "retriever_error"
    RETRY = "retry"
    TEXT = "text"
    CUSTOM_EVENT = "custom_event"


DEFAULT_EVENT_TYPES = frozenset(
    {EventType.LLM_START, EventType.CHAT_MODEL_START, EventType.LLM_END, EventType.LLM_ERROR}
)

# LangChain's dispatch switches (CallbackManager reads these properties per event). Tool events
# are gated by ignore_agent: there is no ignore_tool. End/error/token events of chat models
# are gated by ignore_llm. A start event is dispatched whenever any event of its category is
# wanted, so the handler can remember the start for latency and metadata; a chat model's start
# also when llm_start is, so the handler can warn that chat models start with chat_model_start.
GATES: dict[str, frozenset[EventType]] = {
    "ignore_llm": frozenset(
        {
            EventType.LLM_START,
            EventType.CHAT_MODEL_START,
            EventType.LLM_NEW_TOKEN,
            EventType.LLM_END,
            EventType.LLM_ERROR,
        }
    ),
    "ignore_chat_model": frozenset(
        {
            EventType.LLM_START,
            EventType.CHAT_MODEL_START,
            EventType.LLM_NEW_TOKEN,
            EventType.LLM_END,
            EventType.LLM_ERROR,
        }
    ),
    "ignore_chain": frozenset({EventType.CHAIN_START, EventType.CHAIN_END, EventType.CHAIN_ERROR}),
    "ignore_agent": frozenset(
        {
            EventType.TOOL_START,
            EventType.TOOL_END,
            EventType.TOOL_ERROR,
            EventType.AGENT_ACTION,
            EventType.AGENT_FINISH,
        }
    ),
    "ignore_retriever": frozenset(
        {EventType.RETRIEVER_START, EventType.RETRIEVER_END, EventType.RETRIEVER_ERROR}
    ),
    "ignore_retry": frozenset({EventType.RETRY}),
    "ignore_custom_event": frozenset({EventType.CUSTOM_EVENT}),
}


def parse_event_types(event_types: Iterable[str | EventType] | None) -> frozenset[EventType]:
    """Validate `event_types` (strings or EventType members); None means the LLM events.

    Raises:
        TypeError: not an iterable of strings.
        ValueError: an unknown event type (the message lists the accepted ones).
    """
    if event_types is None:
        return DEFAULT_EVENT_TYPES
    if isinstance(event_types, str | bytes) or not isinstance(event_types, Iterable):
        raise TypeError(
            f"event_types must be a list of event type names, got {type(event_types).__name__}"
        )
    chosen = set()
    for item in event_types:
        try:
            chosen.add(EventType(item))
        except ValueError:
            accepted = ", ".join(e.value for e in EventType)
            raise ValueError(
                f"event_types: unknown event type {item!r}; accepted: {accepted}"
            ) from None
    if not chosen:
        raise ValueError("event_types must name at least one event type")
    return frozenset(chosen)


def ignore_flags(event_types: frozenset[EventType]) -> dict[str, bool]:
    """LangChain's ignore_* switches for a set of event types: True where nothing is wanted."""
    return {gate: not (members & event_types) for gate, members in GATES.items()}
