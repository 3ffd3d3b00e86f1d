"""The ChatOpenAI scenario: a real `ChatOpenAI` (langchain-openai and the openai SDK) against
the tests' fake OpenAI server in a process of its own, with no logger, ours and theirs; sync
`invoke`s and `concurrency` concurrent `ainvoke`s. What a user of a logger feels is its CPU
per invoke: of the calling process (all its threads, theirs writes from one) and of every
process until the rows are durable (our writer too), next to the same calls with no logger.
"""

from __future__ import annotations

import asyncio
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI

from scripts.bench.events import MODEL
from scripts.bench.probe import CpuWindow, inspect_dir
from scripts.bench.scenarios import invoke_configs, measured
from scripts.bench.systems import Lab, Logger, process_cpu_s

VARIANTS = ("none", "ours", "theirs")
MODES = ("sync", "async")
ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT_S = 30.0
SERVER_EXIT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0
FAKE_KEY = "sk-bench-not-a-real-key"


@dataclass(frozen=True)
class ChatInput:
    """The prompts, and how many calls each repetition makes."""

    inputs: list[list[BaseMessage]]
    warmup: int
    sync_invokes: int
    async_invokes: int
    concurrency: int

    def invokes(self, mode: str) -> int:
        return self.sync_invokes if mode == "sync" else self.async_invokes


class FakeServer:
    """`python -m scripts.bench.openai_server` as a child process: started, its base URL
    read, stopped by closing its stdin (killed if it does not exit)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.bench.openai_server"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.process = psutil.Process(self._proc.pid)
        try:
            self.base_url = _first_line(self._proc, SERVER_START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise

    def cpu_s(self) -> float:
        return process_cpu_s(self.process)

    def stop(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(SERVER_EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The server's first line of output (its base URL), waiting at most `timeout`.

    Raises:
        RuntimeError: it exited, or printed no URL in time.
    """
    stdout: IO[str] | None = proc.stdout
    assert stdout is not None
    ready, _, _ = select.select([stdout], [], [], timeout)
    line = stdout.readline().strip() if ready else ""
    if not line.startswith("http://"):
        raise RuntimeError(f"the fake OpenAI server gave no URL in {timeout} s: {line!r}")
    return line


async def _ainvoke_all(
    model: ChatOpenAI,
    inputs: Sequence[list[BaseMessage]],
    configs: Sequence[Any],
    indices: range,
    concurrency: int,
) -> None:
    """Call `ainvoke` once per index, `concurrency` calls in flight at any time."""
    pending = iter(indices)  # shared by the lanes: each takes the next index when free
    k = len(inputs)

    async def lane() -> None:
        for i in pending:
            await model.ainvoke(inputs[i % k], config=configs[i])

    await asyncio.gather(*(lane() for _ in range(concurrency)))


class ChatBench:
    """One server, one ChatOpenAI and one event loop for every repetition: the model's HTTP
    clients and their pooled connections stay warm, and the async client's connections
    belong to this loop."""

    def __init__(self, data: ChatInput) -> None:
        self.data = data
        self.server = FakeServer()
        self.model = ChatOpenAI(
            model=MODEL,
            base_url=self.server.base_url,
            api_key=FAKE_KEY,  # type: ignore[arg-type]
            max_retries=0,
            timeout=REQUEST_TIMEOUT_S,
        )
        self.loop = asyncio.new_event_loop()

    def __enter__(self) -> ChatBench:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.loop.run_until_complete(self.model.root_async_client.close())
            self.model.root_client.close()
            self.loop.close()
        finally:
            self.server.stop()

    def caller(self, mode: str, configs: Sequence[Any]) -> Callable[[range], None]:
        """A function that makes the calls of `indices` in `mode`."""
        model, inputs, k = self.model, self.data.inputs, len(self.data.inputs)
        if mode == "sync":

            def call_sync(indices: range) -> None:
                for i in indices:
                    model.invoke(inputs[i % k], config=configs[i])

            return call_sync

        def call_async(indices: range) -> None:
            self.loop.run_until_complete(
                _ainvoke_all(model, inputs, configs, indices, self.data.concurrency)
            )

        return call_async

    def rep(self, lab: Lab, variant: str, mode: str, rep: int) -> dict[str, Any]:
        """One repetition of one variant in one mode: CPU of every process per invoke."""
        data = self.data
        log_dir = lab.new_dir(f"chat-{mode}-{variant}-{rep}")
        logger: Logger | None = None if variant == "none" else lab.open(variant, log_dir)
        handler = None if logger is None else logger.handler
        n = data.invokes(mode)
        call = self.caller(mode, invoke_configs(variant, handler, data.warmup + n))
        call(range(data.warmup))
        writer = None
        if logger is not None:
            logger.flush()
            writer = logger.writer
        with measured():
            window = CpuWindow.start()
            writer0, server0 = process_cpu_s(writer), self.server.cpu_s()
            own0, t0 = time.process_time(), time.perf_counter()
            call(range(data.warmup, data.warmup + n))
            calls_s = time.perf_counter() - t0
            if logger is not None:
                logger.flush()
            durable_s = time.perf_counter() - t0
            own_s, writer_s = time.process_time() - own0, process_cpu_s(writer) - writer0
            server_s = self.server.cpu_s() - server0
        window.add_bench_s(writer_s + server_s)  # the server's CPU is not the machine's noise
        result: dict[str, Any] = {
            "mode": mode,
            "invokes": n,
            "concurrency": 1 if mode == "sync" else data.concurrency,
            "calls_us": calls_s / n * 1e6,
            "durable_us": durable_s / n * 1e6,
            "own_cpu_us": own_s / n * 1e6,
            "writer_cpu_us": writer_s / n * 1e6 if writer else None,
            "cpu_us": (own_s + writer_s) / n * 1e6,
            "server_cpu_us": server_s / n * 1e6,
            "noise": window.stop(),
        }
        if logger is not None:
            result["counters"] = logger.counters()
            result["problems"] = lab.close(logger)
            expected = 2 * (data.warmup + n)  # chat_model_start and llm_end per call
            result["found"] = inspect_dir(log_dir, expected, has_event_id=variant == "ours")
        shutil.rmtree(log_dir)
        return result


def rotated(variants: Sequence[str], rep: int) -> list[str]:
    """`variants` starting at a different one each repetition (A B C, B C A, C A B): no
    variant always runs first after a pause or right after another's writer exits."""
    shift = rep % len(variants)
    return [*variants[shift:], *variants[:shift]]
