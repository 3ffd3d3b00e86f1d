"""The ChatOpenAI scenario: a real `ChatOpenAI` (langchain-openai and the openai SDK) against
the tests' fake OpenAI server in a process of its own, with no logger, a handler that does
nothing (LangChain's own cost of running any callback handler: the floor of every logger),
ours and theirs; sync
`invoke`s and `concurrency` concurrent `ainvoke`s. What a user of a logger feels is its CPU
per call: of the calling process (all its threads; theirs writes from one) and of every
process until the rows are durable (our writer too), next to the same calls with no logger.

The four variants stay open side by side and take turns in short blocks of calls, so that
a busy neighbour on the machine slows all four alike; each round is one repetition.
"""

from __future__ import annotations

import asyncio
import itertools
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
from scripts.bench.systems import Lab, Logger, noop_logger, process_cpu_s

VARIANTS = ("none", "noop", "ours", "theirs")
MODES = ("sync", "async")
ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT_S = 30.0
SERVER_EXIT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0
FAKE_KEY = "sk-bench-not-a-real-key"


@dataclass(frozen=True)
class ChatInput:
    """The prompts, and how many calls each variant makes."""

    inputs: list[list[BaseMessage]]
    warmup: int  # calls before the measured rounds
    rounds: int  # each: one block of calls per variant, in a rotated order
    sync_block: int  # invokes per block
    async_block: int  # ainvokes per block, `concurrency` at a time
    concurrency: int

    def block(self, mode: str) -> int:
        return self.sync_block if mode == "sync" else self.async_block

    def calls(self, mode: str) -> int:
        return self.warmup + self.rounds * self.block(mode)


@dataclass
class Contender:
    """One variant during a mode's run: its logger (none for the baseline) and its calls."""

    variant: str
    logger: Logger | None
    call: Callable[[range], None]
    done: int = 0  # calls made so far: the next call's index

    def run(self, count: int) -> None:
        self.call(range(self.done, self.done + count))
        self.done += count

    def flush(self) -> None:
        if self.logger is not None:
            self.logger.flush()


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

    def contender(self, lab: Lab, mode: str, variant: str) -> Contender:
        logger = None
        if variant == "noop":
            logger = noop_logger(lab.new_dir(f"chat-{mode}-noop"))
        elif variant != "none":
            logger = lab.open(variant, lab.new_dir(f"chat-{mode}-{variant}"))
        handler = None if logger is None else logger.handler
        configs = invoke_configs(variant, handler, self.data.calls(mode))
        return Contender(variant, logger, self.caller(mode, configs))

    def run_mode(self, lab: Lab, mode: str) -> dict[str, Any]:
        """Every round of one mode, the four variants side by side: per variant and round
        the CPU per call of the calling process, and for ours its writer's added to it."""
        data, block = self.data, self.data.block(mode)
        contenders = {v: self.contender(lab, mode, v) for v in VARIANTS}
        for contender in contenders.values():
            contender.run(data.warmup)
            contender.flush()
        with measured():
            window = CpuWindow.start()
            server0 = self.server.cpu_s()
            own_us, writer_us = self.rounds(contenders, block)
            server_s = self.server.cpu_s() - server0
        writer_s = sum(writer_us) * block / 1e6
        window.add_bench_s(writer_s + server_s)  # the server's CPU is not the machine's noise
        out: dict[str, Any] = {
            "concurrency": 1 if mode == "sync" else data.concurrency,
            "rounds": data.rounds,
            "block": block,
            "writer_cpu_us": writer_s / (data.rounds * block) * 1e6,
            "server_cpu_us": server_s / (len(VARIANTS) * data.rounds * block) * 1e6,
            "noise": window.stop(),
        }
        for variant in VARIANTS:
            writer_share = writer_us if variant == "ours" else [0.0] * data.rounds
            out[variant] = [
                {"own_cpu_us": own, "cpu_us": own + writer}
                for own, writer in zip(own_us[variant], writer_share, strict=True)
            ]
        out["logs"] = {
            v: self.close(lab, contenders[v], data.calls(mode)) for v in ("ours", "theirs")
        }
        return out

    def rounds(
        self, contenders: dict[str, Contender], block: int
    ) -> tuple[dict[str, list[float]], list[float]]:
        """Play the measured rounds. Returns the calling process's CPU per call of each
        variant and round, and our writer's per call of each round: from the start of ours'
        block to the start of its next one (the last one until its flush returns)."""
        ours = contenders["ours"]
        writer = None if ours.logger is None else ours.logger.writer
        own_us: dict[str, list[float]] = {v: [] for v in VARIANTS}
        marks: list[float] = []
        for r in range(self.data.rounds):
            for variant in rotated(VARIANTS, r):
                contender = contenders[variant]
                if contender is ours:
                    marks.append(process_cpu_s(writer))
                own0 = time.process_time()
                contender.run(block)
                if variant == "theirs":
                    contender.flush()  # its thread writes now: billed to its own block
                own_us[variant].append((time.process_time() - own0) / block * 1e6)
        ours.flush()
        marks.append(process_cpu_s(writer))
        return own_us, [(b - a) / block * 1e6 for a, b in itertools.pairwise(marks)]

    @staticmethod
    def close(lab: Lab, contender: Contender, calls: int) -> dict[str, Any]:
        """Close a contender's logger and read its directory back."""
        logger = contender.logger
        assert logger is not None
        counters = logger.counters()
        problems = lab.close(logger)
        expected = 2 * calls  # chat_model_start and llm_end per call
        found = inspect_dir(logger.log_dir, expected, has_event_id=contender.variant == "ours")
        shutil.rmtree(logger.log_dir)
        return {"counters": counters, "problems": problems, "found": found}


def rotated(variants: Sequence[str], round_: int) -> list[str]:
    """`variants` starting at a different one each round (A B C, B C A, C A B): none always
    runs right after another's block."""
    shift = round_ % len(variants)
    return [*variants[shift:], *variants[:shift]]
