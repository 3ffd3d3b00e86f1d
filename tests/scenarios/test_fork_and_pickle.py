"""Fork while threads are logging (run as a small program: a deadlock must not take pytest
with it), and copies and pickles of a logger."""

from __future__ import annotations

import copy
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger
from tests.scenarios import producers
from tests.support import read_rows, run_python, stop_writer

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
THREADS = 4
FORKS = 10
CHILD_EVENTS = 100

# Forks FORKS times while THREADS threads log without pause; each child logs CHILD_EVENTS
# events, flushes and leaves with os._exit (0, or 1 on any failure). SIGALRM's default action
# ends a child that deadlocks, so no process outlives the test. Prints what it logged.
FORK_PROGRAM = f"""
import json, os, signal, sys, threading, traceback

from tests.scenarios.producers import check_nothing_lost, log_llm_start
from parquet_logger import ParquetLogger

THREADS, FORKS, CHILD_EVENTS = {THREADS}, {FORKS}, {CHILD_EVENTS}
logger = ParquetLogger(os.environ["LOG_DIR"])
stop = threading.Event()
warm = threading.Barrier(THREADS + 1)
logged = [0] * THREADS

def log_from_thread(t):
    while not stop.is_set():
        log_llm_start(logger, f"t{{t}}:{{logged[t]}}")
        logged[t] += 1
        if logged[t] == 100:
            warm.wait(30)  # the forks start once every thread is logging

def child(k):
    signal.alarm(30)
    try:
        for i in range(CHILD_EVENTS):
            log_llm_start(logger, f"c{{k}}:{{i}}")
        logger.flush(20)
        check_nothing_lost(logger)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)

threads = [threading.Thread(target=log_from_thread, args=(t,)) for t in range(THREADS)]
for thread in threads:
    thread.start()
warm.wait(30)
pids = {{}}
for k in range(FORKS):
    pid = os.fork()
    if pid == 0:
        child(k)
    pids[f"c{{k}}"] = pid
stop.set()
for thread in threads:
    thread.join(30)
children = {{
    name: (pid, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])) for name, pid in pids.items()
}}
logger.flush(30)
check_nothing_lost(logger)
print(json.dumps({{"pid": os.getpid(), "thread_events": sum(logged), "children": children}}))
"""


def test_fork_while_threads_log(log_dir: Path) -> None:
    """Forking while 4 threads log deadlocks nothing; the events of the parent's threads and
    of every child are on disk, each under its own pid."""
    env = {**os.environ, "LOG_DIR": str(log_dir)}

    result = run_python(FORK_PROGRAM, timeout=90, env=env, cwd=REPO)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {name: code for name, (_, code) in report["children"].items()} == {
        f"c{k}": 0 for k in range(FORKS)
    }, result.stderr
    rows = read_rows(log_dir)
    assert rows["event_id"].is_unique
    prefix = rows["custom_id"].str.split(":").str[0]
    parent = rows[rows["pid"] == report["pid"]]
    assert len(parent) == report["thread_events"]
    assert set(prefix[rows["pid"] == report["pid"]]) == {f"t{t}" for t in range(THREADS)}
    for name, (pid, _) in report["children"].items():
        assert sorted(rows.loc[prefix == name, "pid"]) == [pid] * CHILD_EVENTS, name
    assert len(rows) == report["thread_events"] + FORKS * CHILD_EVENTS


def test_copies_are_the_logger_itself(make_logger: Callable[..., ParquetLogger]) -> None:
    """`copy.copy` and `copy.deepcopy` (as LangChain does to configs) return the same logger."""
    logger = make_logger()

    assert copy.copy(logger) is logger
    assert copy.deepcopy(logger) is logger
    assert copy.deepcopy({"callbacks": [logger]})["callbacks"][0] is logger


def test_unpickled_logger_logs_to_the_same_directory(
    make_logger: Callable[..., ParquetLogger], log_dir: Path
) -> None:
    """A logger pickles to its configuration; the copy attaches and logs to the same place."""
    logger = make_logger(partition_on=["date", "event_type"], logger_metadata={"job": "j1"})

    clone = pickle.loads(pickle.dumps(logger))
    try:
        producers.log_llm_run(clone, "from-clone")
        producers.log_llm_run(logger, "from-original")
        clone.flush(30)
        logger.flush(30)
    finally:
        clone.close(timeout=30)

    assert clone is not logger
    assert clone.settings == logger.settings
    rows = read_rows(log_dir)
    assert sorted(zip(rows["custom_id"], rows["event_type"], strict=True)) == [
        ("from-clone", "llm_end"),
        ("from-clone", "llm_start"),
        ("from-original", "llm_end"),
        ("from-original", "llm_start"),
    ]
    assert set(rows["logger_metadata"]) == {'{"job":"j1"}'}
    folders = {path.parent.name for path in log_dir.rglob("*.parquet")}
    assert folders == {"event_type=llm_start", "event_type=llm_end"}


def test_unpickled_logger_keeps_its_directory_after_chdir(
    make_logger: Callable[..., ParquetLogger], log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A logger made with a relative log_dir pickles to the directory it logs to, not to a
    path that the unpickling process resolves against its own working directory."""
    monkeypatch.chdir(log_dir.parent)
    logger = make_logger(log_dir=log_dir.name)
    elsewhere = log_dir.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    clone = pickle.loads(pickle.dumps(logger))
    try:
        producers.log_llm_run(clone, "from-clone")
        clone.flush(30)
    finally:
        clone.close(timeout=30)
        stop_writer(elsewhere / log_dir.name)  # the stray directory's writer, if any

    assert set(read_rows(log_dir).get("custom_id", [])) == {"from-clone"}
