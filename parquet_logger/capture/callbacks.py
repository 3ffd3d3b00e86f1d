"""LangChain's callback interface: each `on_*` method is one `CallbackEvent` handed to
`_record`, and each `ignore_*` switch tells LangChain which callbacks to skip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from parquet_logger.capture.event import CallbackEvent
from parquet_logger.capture.events import EventType

# Short names: every callback below is one line that builds an event.
_E = EventType
_Event = CallbackEvent


class LangChainCallbacks(BaseCallbackHandler):
    """The callbacks of a handler whose `_record` records an event and `_ignore` holds the
    `ignore_*` switches (`events.ignore_flags`)."""

    _ignore: dict[str, bool]

    def _record(self, event: CallbackEvent) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ LangChain switches
    @property
    def ignore_llm(self) -> bool:
        return self._ignore["ignore_llm"]

    @property
    def ignore_chat_model(self) -> bool:
        return self._ignore["ignore_chat_model"]

    @property
    def ignore_chain(self) -> bool:
        return self._ignore["ignore_chain"]

    @property
    def ignore_agent(self) -> bool:
        return self._ignore["ignore_agent"]

    @property
    def ignore_retriever(self) -> bool:
        return self._ignore["ignore_retriever"]

    @property
    def ignore_retry(self) -> bool:
        return self._ignore["ignore_retry"]

    @property
    def ignore_custom_event(self) -> bool:
        return self._ignore["ignore_custom_event"]

    # ------------------------------------------------------------------ LLM events
    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"prompts": prompts}
        self._record(
            _Event(_E.LLM_START, run_id, parent_run_id, tags, inputs, kwargs, serialized, metadata)
        )

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"messages": messages}
        self._record(
            _Event(
                _E.CHAT_MODEL_START,
                run_id,
                parent_run_id,
                tags,
                inputs,
                kwargs,
                serialized,
                metadata,
            )
        )

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"token": token, "chunk": chunk}
        self._record(_Event(_E.LLM_NEW_TOKEN, run_id, parent_run_id, tags, inputs, kwargs))

    def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"response": response}
        self._record(_Event(_E.LLM_END, run_id, parent_run_id, tags, inputs, kwargs))

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"error": error}
        self._record(_Event(_E.LLM_ERROR, run_id, parent_run_id, tags, inputs, kwargs))

    # ------------------------------------------------------------------ chains, tools, retrievers
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        args = {"inputs": inputs}  # `args`: this callback has an argument named `inputs`
        self._record(
            _Event(_E.CHAIN_START, run_id, parent_run_id, tags, args, kwargs, serialized, metadata)
        )

    def on_chain_end(
        self,
        outputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"outputs": outputs}
        self._record(_Event(_E.CHAIN_END, run_id, parent_run_id, tags, inputs, kwargs))

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"error": error}
        self._record(_Event(_E.CHAIN_ERROR, run_id, parent_run_id, tags, inputs, kwargs))

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        args = {
            "input_str": input_str,
            "inputs": inputs,
            "tool_call_id": kwargs.get("tool_call_id"),
        }
        self._record(
            _Event(_E.TOOL_START, run_id, parent_run_id, tags, args, kwargs, serialized, metadata)
        )

    def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"output": output}
        self._record(_Event(_E.TOOL_END, run_id, parent_run_id, tags, inputs, kwargs))

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"error": error}
        self._record(_Event(_E.TOOL_ERROR, run_id, parent_run_id, tags, inputs, kwargs))

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"query": query}
        self._record(
            _Event(
                _E.RETRIEVER_START,
                run_id,
                parent_run_id,
                tags,
                inputs,
                kwargs,
                serialized,
                metadata,
            )
        )

    def on_retriever_end(
        self,
        documents: Sequence[Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"documents": documents}
        self._record(_Event(_E.RETRIEVER_END, run_id, parent_run_id, tags, inputs, kwargs))

    def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"error": error}
        self._record(_Event(_E.RETRIEVER_ERROR, run_id, parent_run_id, tags, inputs, kwargs))

    # ------------------------------------------------------------------ point events
    def on_agent_action(
        self,
        action: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"action": action}
        self._record(_Event(_E.AGENT_ACTION, run_id, parent_run_id, tags, inputs, kwargs))

    def on_agent_finish(
        self,
        finish: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"finish": finish}
        self._record(_Event(_E.AGENT_FINISH, run_id, parent_run_id, tags, inputs, kwargs))

    def on_retry(
        self,
        retry_state: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        tags = kwargs.pop("tags", None)
        inputs = {"retry_state": retry_state}
        self._record(_Event(_E.RETRY, run_id, parent_run_id, tags, inputs, kwargs))

    def on_text(
        self,
        text: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"text": text}
        self._record(_Event(_E.TEXT, run_id, parent_run_id, tags, inputs, kwargs))

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        inputs = {"name": name, "data": data}
        self._record(_Event(_E.CUSTOM_EVENT, run_id, None, tags, inputs, kwargs, None, metadata))
