"""Fake chat models for the Ray tests, importable by the Ray workers (PYTHONPATH is the
repository's root in the clusters the fixtures start)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import ray
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tests.batch_models import ScriptedChat


class PidChat(ScriptedChat):
    """ScriptedChat that answers `pid <worker pid>` to a prompt starting with `pid`."""

    async def _answer(self, text: str, attempt: int) -> ChatResult:
        if text.startswith("pid"):
            message = AIMessage(content=f"pid {os.getpid()}")
            return ChatResult(generations=[ChatGeneration(message=message)])
        return await super()._answer(text, attempt)


class KillingChat(PidChat):
    """PidChat whose worker process SIGKILLs itself on a prompt starting with `kill`, after
    `kill_delay_s` (so that the rows before it in its chunk are reported first)."""

    kill_delay_s: float = 0.5

    async def _answer(self, text: str, attempt: int) -> ChatResult:
        if text.startswith("kill"):
            await asyncio.sleep(self.kill_delay_s)
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no atexit, no report
        return await super()._answer(text, attempt)


class NodeBoundChat(PidChat):
    """PidChat whose rows hang on the node `hang_on_node` (after touching `marker`), so that
    a test can remove that node while its task runs."""

    hang_on_node: str = ""
    marker: str = ""

    async def _answer(self, text: str, attempt: int) -> ChatResult:
        if ray.get_runtime_context().get_node_id() == self.hang_on_node:
            Path(self.marker).touch()
            await asyncio.sleep(300)  # ended by the node's removal
        return await super()._answer(text, attempt)
