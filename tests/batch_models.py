"""Fake chat models for the batch tests: real LangChain chat models whose behaviour is chosen
by the prompt."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field


class FakeRateLimitError(Exception):
    """Looks like openai.RateLimitError to the retry policy (a 429 status code)."""

    status_code = 429


class ScriptedChat(FakeListChatModel):
    """Answers `echo: <prompt>`; a prompt starting with `fail` raises ValueError, `slow` hangs,
    `flaky` raises a 429 on its first `flaky_failures` attempts."""

    responses: list[str] = Field(default_factory=lambda: ["unused"])
    flaky_failures: int = 2
    attempts: dict[str, int] = Field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = str(messages[-1].content)
        self.attempts[text] = self.attempts.get(text, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(text, self.attempts[text])
        finally:
            self.in_flight -= 1

    async def _answer(self, text: str, attempt: int) -> ChatResult:
        # Let other rows overtake this one, so completion order differs from row order.
        for _ in range(len(text) % 4):
            await asyncio.sleep(0)
        if text.startswith("fail"):
            raise ValueError(f"bad row: {text}")
        if text.startswith("slow"):
            await asyncio.Event().wait()  # never set: only a timeout or cancellation ends it
        if text.startswith("flaky") and attempt <= self.flaky_failures:
            raise FakeRateLimitError(f"429 on attempt {attempt}")
        message = AIMessage(content=f"echo: {text}")
        return ChatResult(generations=[ChatGeneration(message=message)])


class CrashingChat(ScriptedChat):
    """ScriptedChat whose process dies (`os._exit(3)`) on a prompt starting with `crash`."""

    async def _answer(self, text: str, attempt: int) -> ChatResult:
        if text.startswith("crash"):
            os._exit(3)  # no cleanup, no report: what a segfault or the OOM killer leaves
        return await super()._answer(text, attempt)
