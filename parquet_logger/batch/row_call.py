"""One row's call: its tools bound, its config merged with the batch's callbacks, transient
failures retried (each retry logged), and a timed-out attempt's run ended in the logs.

An `llm` that is not a LangChain `Runnable` (a wrapper of the user's own, a test double) is
called the way the package users come from called every model:
`llm.ainvoke(input=prompt, config=config, tools=tools)`, with an absent config or tools left
out and nothing bound, since such an object has no run ids or `bind_tools` to rely on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.language_models import BaseLanguageModel
from langchain_core.runnables import Runnable
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from parquet_logger.capture.handler import ParquetLogger
from parquet_logger.errors import RowTimeoutError
from parquet_logger.frame_input import is_missing
from parquet_logger.retry_policy import RetryPolicy, is_transient

try:  # run ids that sort by time, like LangChain's own (langchain-core >= 1.0)
    from langchain_core.utils.uuid import uuid7 as _uuid7

    _new_run_id: Callable[[], UUID] = _uuid7
except ImportError:  # pragma: no cover - older langchain-core
    _new_run_id = uuid4

__all__ = ["RowCall", "bind_tools", "is_runnable", "parquet_loggers", "row_config"]


class RowCall:
    """The attempts of one row; each attempt gets a fresh run id, and each retry is logged
    against the run id of the attempt that failed."""

    def __init__(
        self,
        runnable: Any,
        prompt: Any,
        config: dict[str, Any] | None,
        kwargs: dict[str, Any],
        retry: RetryPolicy,
    ) -> None:
        self._runnable = runnable
        self._prompt = prompt
        self._config = config
        self._kwargs = kwargs
        self._retry = retry
        self._run_id: Any = None
        self._plain = not is_runnable(runnable)

    async def run(self) -> Any:
        if self._retry.max_retries == 0:
            return await self._attempt()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.max_retries + 1),
            wait=self._retry.wait_s,
            retry=retry_if_exception(is_transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return await retrying(self._attempt)

    async def _attempt(self) -> Any:
        if self._plain:
            call: dict[str, Any] = {"input": self._prompt}
            if self._config is not None:
                call["config"] = self._config
            return await self._runnable.ainvoke(**call, **self._kwargs)
        config = dict(self._config or {})
        # A caller's run_id names the first attempt only: run ids must stay unique.
        if self._run_id is not None or config.get("run_id") is None:
            config["run_id"] = _new_run_id()
        self._run_id = config["run_id"]
        return await self._runnable.ainvoke(self._prompt, config=config, **self._kwargs)

    def _log_retry(self, retry_state: RetryCallState) -> None:
        config = self._config or {}
        tags = list(config.get("tags") or [])
        for logger in parquet_loggers(config.get("callbacks")):
            logger.on_retry(retry_state, run_id=self._run_id, parent_run_id=None, tags=tags)

    def log_timeout(self, error: RowTimeoutError) -> None:
        """End the cancelled attempt's run in the logs: LangChain fires no error event for a
        run cancelled by a timeout, which would leave its start event without an end."""
        if self._run_id is None:
            return
        config = self._config or {}
        tags = list(config.get("tags") or [])
        model = isinstance(getattr(self._runnable, "bound", self._runnable), BaseLanguageModel)
        for logger in parquet_loggers(config.get("callbacks")):
            end = logger.on_llm_error if model else logger.on_chain_error
            end(error, run_id=self._run_id, parent_run_id=None, tags=tags)


def is_runnable(llm: Any) -> bool:
    """A LangChain runnable (called positionally, with run ids and bound tools), as opposed
    to any other object with `ainvoke` (called with keywords only)."""
    return isinstance(llm, Runnable)


def parquet_loggers(callbacks: Any) -> list[ParquetLogger]:
    """The ParquetLoggers among a config's callbacks (a list of handlers or a manager)."""
    if isinstance(callbacks, BaseCallbackManager):
        handlers: Sequence[Any] = callbacks.handlers
    elif isinstance(callbacks, list | tuple):
        handlers = callbacks
    else:
        return []
    unique = {id(h): h for h in handlers if isinstance(h, ParquetLogger)}
    return list(unique.values())


def row_config(
    config: Any, extra: tuple[BaseCallbackHandler, ...], index: int
) -> dict[str, Any] | None:
    """The row's config with the batch's callbacks added; the caller's dict is not modified."""
    if is_missing(config):
        config = None
    elif not isinstance(config, Mapping):
        raise TypeError(
            f"row {index}: the config column must hold a dict (a LangChain run config), "
            f"got {type(config).__name__}"
        )
    if not extra:
        return dict(config) if config is not None else None
    merged = dict(config or {})
    own = merged.get("callbacks")
    if isinstance(own, BaseCallbackManager):
        manager = own.copy()
        for handler in extra:
            manager.add_handler(handler, inherit=True)
        merged["callbacks"] = manager
    else:
        handlers = list(own or [])
        merged["callbacks"] = handlers + [h for h in extra if all(h is not x for x in handlers)]
    return merged


def bind_tools(llm: Any, tools: Any) -> tuple[Any, dict[str, Any]]:
    """The runnable to call for a row with `tools`, and extra ainvoke kwargs.

    Models without `bind_tools`, and objects that are not LangChain runnables, get `tools=`
    as a call argument, as the package users come from did.
    """
    if is_missing(tools) or not isinstance(tools, list | tuple) or not tools:
        return llm, {}
    if not is_runnable(llm):
        return llm, {"tools": list(tools)}
    bind = getattr(llm, "bind_tools", None)
    if bind is not None:
        try:
            return bind(list(tools)), {}
        except NotImplementedError:
            pass
    return llm, {"tools": list(tools)}
