"""The model `batch_process` calls: the caller's `llm`, or one it creates from `llm_class` /
`llm_kwargs` (a ChatOpenAI by default), with a recipe that builds it again in a worker
process, and its description for the job's `logger_metadata`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable

from parquet_logger.batch.compat_config import LLMConfig
from parquet_logger.batch.job_options import JobOptions

__all__ = ["DEFAULT_OPENAI_MODEL", "JobModel", "job_model"]

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class JobModel:
    """The runnable to call, a picklable recipe that builds it again (None when the caller
    gave the instance), and its description.

    `constructor_callbacks` is the list a model that is not a LangChain runnable was built
    with as `callbacks=` (the way the package users come from attached its logger to such
    a model); the job puts its handlers in it. None for runnables and given instances:
    their handlers travel in each row's run config.
    """

    runnable: Any
    factory: Callable[[], Any] | None
    facts: dict[str, Any]
    constructor_callbacks: list[Any] | None = field(default=None)


def job_model(llm: Any, job: JobOptions, max_retries: int) -> JobModel:
    """The job's model.

    Raises:
        ValueError: both an `llm` instance and `llm_class`/`llm_kwargs`/`model_kwargs`.
        TypeError: `llm_class` is not a class, or `structured_output` is given for a model
            without `with_structured_output`.
        ImportError: no `llm` and no `llm_class`, and langchain-openai is not installed.
    """
    llm_class = job.llm_class
    kwargs = dict(job.llm_kwargs or {})
    if llm is not None and (llm_class is not None or kwargs or job.model_kwargs):
        raise ValueError("give llm (an instance) or llm_class/llm_kwargs, not both")
    factory: Callable[[], Any] | None = None
    constructor_callbacks: list[Any] | None = None
    if llm is None:
        if llm_class is None:
            llm_class = _chat_openai()
            kwargs.setdefault("model", DEFAULT_OPENAI_MODEL)
        if not isinstance(llm_class, type):
            raise TypeError(f"llm_class must be a class, got {llm_class!r}")
        if job.model_kwargs:
            kwargs["model_kwargs"] = dict(job.model_kwargs)
        if max_retries and "max_retries" in getattr(llm_class, "model_fields", {}):
            kwargs.setdefault("max_retries", 0)  # one retry layer: ours, which logs
        if not issubclass(llm_class, Runnable) and _takes_callbacks(llm_class):
            constructor_callbacks = list(kwargs.get("callbacks") or [])  # never the caller's
            kwargs["callbacks"] = constructor_callbacks
        llm = llm_class(**kwargs)
        # A bound method of a plain dataclass: pickles by reference to the class, not the model.
        factory = LLMConfig(llm_class, kwargs, None, job.structured_output).create_llm
    facts = {
        "class": type(llm).__name__,
        "module": type(llm).__module__,
        "llm_kwargs": {k: v for k, v in kwargs.items() if k != "callbacks"},
        "settings": getattr(llm, "_identifying_params", {}),
    }
    schema = job.structured_output
    if schema is not None:
        if not callable(getattr(llm, "with_structured_output", None)):
            raise TypeError(
                f"structured_output: {type(llm).__name__} has no with_structured_output()"
            )
        llm = llm.with_structured_output(schema)
        facts["structured_output"] = getattr(schema, "__name__", repr(schema))
    return JobModel(llm, factory, facts, constructor_callbacks)


def _takes_callbacks(llm_class: type) -> bool:
    try:
        params = inspect.signature(llm_class).parameters.values()
    except (TypeError, ValueError):  # a signature Python cannot read: do not guess
        return False
    return any(p.name == "callbacks" or p.kind is p.VAR_KEYWORD for p in params)


def _chat_openai() -> type:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ImportError(
            "batch_process() creates a ChatOpenAI when no llm is given: "
            "pip install langchain-openai, or pass llm= / llm_class="
        ) from exc
    return ChatOpenAI
