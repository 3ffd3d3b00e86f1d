"""Side-by-side benchmark of parquet_logger ("ours") and langchain-callback-parquet-logger
4.0.0 ("theirs"); run it with `python scripts/bench.py` (or `python -m scripts.bench`).

Scenarios (the systems interleaved, A B A B, medians over repetitions):
  hot_path     N events straight into the handler: per-call latency, CPU/event of every
               process involved (our writer included) until everything is durable
  langchain    a FakeListChatModel invoked N times with no handler, a no-op handler and each
               logger: the logger's added cost per invoke, until its files are on disk
  chat_openai  a real ChatOpenAI against a local fake OpenAI server (its own process), sync
               and 32 concurrent ainvokes: each logger's added CPU per invoke, in percent
  fleet        P = 1, 2, 4, 8 spawned workers into one directory: events/s until durable,
               files, bytes, rows read back, duplicates, peak memory of workers and writer
  read_back    the largest fleet directory read whole with pandas and with pyarrow
  idle         CPU of a writer (and of the producer process) with nothing to do
  sustained    memory growth of one producer logging as fast as it can

Every scenario reads its directory back: rows == events sent, no duplicates, every file
readable. The exit code is 1 when such a check fails, never because a speed target is
missed. CPU used by other processes during each scenario is printed, so noise is visible.

Modules: `cli` (options, output), `plan` (how much to run), `run` (the scenarios in order),
`events` and `model` (the seeded events), `systems` (the two loggers behind one interface),
`scenarios`, `chat_openai` and `workers` (one repetition each), `openai_server` (the fake
server's process), `probe` (CPU, memory, read-back), `report` (figures, targets, checks).
`batch` is a separate benchmark of batch_run: `python -m scripts.bench.batch`.
"""
