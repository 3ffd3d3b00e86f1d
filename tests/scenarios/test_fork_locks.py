"""Fork while another thread holds every lock of the package: the child renews them all (one
at-fork hook) and logs, warns, flushes and closes within a deadline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support import read_rows, run_python

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
CHILD_EVENTS = 10

# A thread takes every thread lock the package owns (the logger's and the supervisor's
# warning limiters, the attachment registry, a retrieval checkpoint, the watchdog's event, the
# node loggers' registry) plus the ring lock (its thread lock and its flock), then the main
# thread forks. The parent releases the ring flock only once the child has shown that its own
# ring descriptor cannot take it (an inherited descriptor would share the parent's lock and let
# both write at once). The thread locks the parent releases stay held in the child unless they
# were renewed.
# SIGALRM ends a child that deadlocks; it exits 0 only if everything worked.
FORK_PROGRAM = f"""
import fcntl, json, os, signal, sys, threading, traceback
from collections.abc import Mapping
from uuid import uuid4

from parquet_logger import ParquetLogger, node_loggers
from parquet_logger.retrieval.checkpoint import Checkpoint, CheckpointEntry
from parquet_logger.transport import attachment as attachment_module
from tests.scenarios.producers import log_llm_start

class Broken(Mapping):
    def __getitem__(self, key):
        raise RuntimeError("broken serialized")
    def __iter__(self):
        return iter(())
    def __len__(self):
        return 0

logger = ParquetLogger(os.environ["LOG_DIR"])
log_llm_start(logger, "parent:0")
attachment = logger._attachment
checkpoint = Checkpoint(os.environ["CHECKPOINT"])
thread_locks = [
    logger._warnings._lock,
    attachment.supervisor._warnings._lock,
    attachment_module._registry_lock,
    checkpoint._lock,
    attachment.supervisor._stop._cond,
    node_loggers._loggers_lock,
]
held, release = threading.Event(), threading.Event()

def hold_everything():
    for lock in thread_locks:
        lock.acquire()
    attachment.lock.acquire()
    held.set()
    release.wait(60)
    attachment.lock.release()
    for lock in reversed(thread_locks):
        lock.release()

def child(ready_w):
    signal.alarm(30)
    try:
        try:
            fcntl.flock(attachment.lock._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            raise AssertionError("the child's ring lock shares the parent's flock")
        os.write(ready_w, b"1")  # the parent may let go of the ring now
        logger.on_llm_start(Broken(), ["p"], run_id=uuid4())  # the guard warns: limiter lock
        assert logger.stats()["callback_failures"] == 1
        for i in range({CHILD_EVENTS}):
            log_llm_start(logger, f"child:{{i}}")
        logger.flush(20)
        node_loggers.flush_node_loggers(20)  # the node loggers' registry lock
        checkpoint.append([("resp_child", CheckpointEntry("completed"))])
        logger.close(20)  # the attachment registry's lock
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)

holder = threading.Thread(target=hold_everything)
holder.start()
held.wait(30)
ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:
    child(ready_w)
os.close(ready_w)  # so that a child that dies early ends this read
os.read(ready_r, 1)
release.set()
holder.join(30)
code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
logger.flush(30)
checkpoint.close()
logger.close(30)
print(json.dumps({{"pid": os.getpid(), "child_pid": pid, "child_code": code}}))
"""


def test_child_renews_every_lock_held_at_fork(log_dir: Path, tmp_path: Path) -> None:
    """With all locks held by another thread at fork, the child logs, warns, flushes, appends
    to a checkpoint and closes; its rows are on disk under its own pid."""
    checkpoint = tmp_path / "checkpoint.jsonl"
    env = {**os.environ, "LOG_DIR": str(log_dir), "CHECKPOINT": str(checkpoint)}

    result = run_python(FORK_PROGRAM, timeout=90, env=env, cwd=REPO)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["child_code"] == 0, result.stderr
    rows = read_rows(log_dir)
    child = rows[rows["pid"] == report["child_pid"]]
    assert sorted(child["custom_id"]) == sorted(f"child:{i}" for i in range(CHILD_EVENTS))
    assert list(rows.loc[rows["pid"] == report["pid"], "custom_id"]) == ["parent:0"]
    assert "resp_child" in checkpoint.read_text()
    assert "broken serialized" in result.stderr  # the child's warning got out
