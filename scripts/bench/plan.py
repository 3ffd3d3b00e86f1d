"""How much of each scenario a benchmark run does: the full plan and the quick one."""

from __future__ import annotations

from dataclasses import dataclass

SCENARIOS = ("hot_path", "langchain", "chat_openai", "fleet", "read_back", "idle", "sustained")


@dataclass(frozen=True)
class Plan:
    """How much of each scenario to run."""

    reps: int
    hot_runs: int  # two events per run
    hot_warmup_runs: int
    langchain_invokes: int
    langchain_warmup: int
    chat_rounds: int  # each: a block of calls per variant (no logger, no-op handler, ours, theirs)
    chat_block: int  # sync invokes per block
    chat_async_block: int  # ainvokes per block, `chat_concurrency` at a time
    chat_concurrency: int
    chat_warmup: int
    fleet_sizes: tuple[int, ...]
    fleet_runs: int  # per worker; two events per run
    fleet_reps: int
    read_back_repeats: int
    idle_s: float
    sustain_warmup_runs: int  # enough for ours to wrap its 128 MiB ring (~3.9 KB/event) once
    sustain_s: float


FULL = Plan(
    reps=3,
    hot_runs=100_000,
    hot_warmup_runs=500,
    langchain_invokes=5_000,
    langchain_warmup=100,
    chat_rounds=20,
    chat_block=100,
    chat_async_block=320,
    chat_concurrency=32,
    chat_warmup=100,
    fleet_sizes=(1, 2, 4, 8),
    fleet_runs=5_000,
    fleet_reps=2,
    read_back_repeats=3,
    idle_s=10.0,
    sustain_warmup_runs=20_000,
    sustain_s=15.0,
)
QUICK = Plan(
    reps=2,
    hot_runs=2_500,
    hot_warmup_runs=100,
    langchain_invokes=300,
    langchain_warmup=20,
    chat_rounds=4,
    chat_block=50,
    chat_async_block=160,
    chat_concurrency=32,
    chat_warmup=32,
    fleet_sizes=(1, 8),
    fleet_runs=250,
    fleet_reps=1,
    read_back_repeats=1,
    idle_s=2.0,
    sustain_warmup_runs=18_000,
    sustain_s=2.0,
)
