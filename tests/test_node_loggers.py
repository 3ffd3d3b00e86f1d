"""Node loggers without a cluster: a ParquetLogger pickled for the nodes arrives attached to
the node directory, one logger per directory and settings in a process."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from parquet_logger import ParquetLogger
from parquet_logger.node_loggers import (
    NodeLogger,
    close_node_loggers,
    dumps_for_nodes,
    flush_node_loggers,
)
from tests.support import read_rows, stop_writer

pytest.importorskip(
    "ray.cloudpickle", reason='Ray is not installed: pip install "parquet-logger[ray]"'
)


@pytest.fixture
def node_dir(tmp_path: Path) -> Iterator[Path]:
    """A node directory; this process's node loggers are detached and its writer stopped."""
    path = tmp_path / "node"
    yield path
    close_node_loggers()
    stop_writer(path)


def test_pickled_loggers_arrive_on_the_node_directory(make_logger, node_dir: Path) -> None:
    """Every ParquetLogger inside the pickled object (a list, a config dict) unpickles as the
    one logger of this process on the node directory, with the sender's settings."""
    sent = make_logger(event_types=["chat_model_start", "llm_end"], flush_interval_s=0.5)
    payload = {"callbacks": [sent], "nested": ({"again": sent},)}
    received = pickle.loads(dumps_for_nodes(payload, str(node_dir)))
    logger = received["callbacks"][0]
    assert isinstance(logger, ParquetLogger)
    assert logger.log_dir == str(node_dir)
    assert logger is received["nested"][0]["again"]
    assert logger.event_types == sent.event_types
    assert logger.log_event("my_event", {"n": 1})
    flush_node_loggers()
    assert list(read_rows(node_dir)["event_type"]) == ["my_event"]
    assert not any(Path(sent.log_dir).rglob("*.parquet"))


def test_one_logger_per_directory_and_settings(make_logger, node_dir: Path) -> None:
    """NodeLogger.get() returns the same logger for the same directory and settings, another
    one for other settings; without a node directory the logger's own log_dir is used."""
    first = make_logger(logger_metadata={"job": "a"})
    second = make_logger(logger_metadata={"job": "b"})
    a = NodeLogger.of(first, node_dir).get()
    assert NodeLogger.of(first, node_dir).get() is a
    assert NodeLogger.of(second, node_dir).get() is not a
    own = NodeLogger.of(first).get()
    assert own.log_dir == first.log_dir
    assert own is not first  # the cache's own logger on the same directory


def test_bad_log_dir_is_a_type_error(make_logger) -> None:
    """NodeLogger.of with a log_dir that is not a path names the parameter."""
    with pytest.raises(TypeError, match="log_dir"):
        NodeLogger.of(make_logger(), 3)  # type: ignore[arg-type]
