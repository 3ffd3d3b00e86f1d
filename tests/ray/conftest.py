"""Real Ray clusters for the tests in this folder, one per module (Ray takes seconds to
start): all their traffic on 127.0.0.1, their state in the test's temporary folder, and every
node writer they started stopped at teardown.

Each test module starts with `pytest.importorskip("ray", reason=SKIP_REASON)`: without Ray
they are skipped, saying why.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from parquet_logger.transport.statedir import STATE_FOLDER, StateDir
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY
from tests.support import drain_argv, stop_writer, writer_running

ray: Any
try:
    import ray
except ImportError:  # each test module skips itself, with SKIP_REASON
    ray = None

SKIP_REASON = 'Ray is not installed: pip install "parquet-logger[ray]"'

REPO = Path(__file__).parents[2]
LOOPBACK = "127.0.0.1"

# Inherited by the raylets, hence by the Ray workers and the writers they start.
CLUSTER_ENV = {
    # Ray's get_node_ip_address() returns the loopback address instead of the interface's.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",  # no token warning, nothing to set up in a test
    "PYTHONPATH": str(REPO),  # the workers unpickle the models of tests.*
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "TQDM_DISABLE": "1",
}


@dataclass(frozen=True)
class RayRun:
    """A running Ray for one module: where its tests put their log directories."""

    logs: Path
    nodes: int
    cluster: Any = None  # the ray.cluster_utils.Cluster, for a multi-node Ray


@contextmanager
def cluster_environment(temp_dir: Path) -> Iterator[None]:
    """CLUSTER_ENV, and Ray's temporary files (its `ray_current_cluster` address file
    included, which cluster_utils writes under $RAY_TMPDIR/ray) in `temp_dir`: a file left by
    a killed run must never make a later `ray.init()` join a dead cluster."""
    (temp_dir / "ray").mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CLUSTER_ENV.items():
            patch.setenv(name, value)
        patch.setenv("RAY_TMPDIR", str(temp_dir))
        # The variable above is read when ray is imported: the Ray processes started from
        # here read it, this (already importing) process needs its constant set too.
        patch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
        for name in ("RAY_ADDRESS", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        yield


def assert_on_loopback() -> None:
    """The cluster's GCS and every node listen on 127.0.0.1, not the machine's address."""
    assert ray.get_runtime_context().gcs_address.startswith(f"{LOOPBACK}:")
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {LOOPBACK}


def stop_node_writers(logs: Path) -> None:
    """Once Ray is down (no worker attached any more): every writer under `logs` exits.

    A directory whose ring has events but no writer (a node removed while its worker was
    still starting the writer: the worker's death took the launcher with it) is drained the
    way a user would, with a writer that exits once they are written.
    """
    for state_folder in logs.rglob(STATE_FOLDER):
        log_dir = state_folder.parent
        if StateDir.for_log_dir(log_dir).shm_ring.exists() and not writer_running(log_dir):
            subprocess.run(drain_argv(log_dir), timeout=60, check=True)
        stop_writer(log_dir, timeout=30.0)


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayRun]:
    """`ray.init(num_cpus=2)`: a one-node local Ray on 127.0.0.1."""
    logs = tmp_path_factory.mktemp("logs")
    temp_dir = tmp_path_factory.mktemp("ray")
    with cluster_environment(temp_dir):
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address=LOOPBACK,
            _temp_dir=str(temp_dir / "ray"),
        )
        try:
            assert_on_loopback()
            yield RayRun(logs, nodes=1)
        finally:
            ray.shutdown()
            stop_node_writers(logs)


@pytest.fixture(scope="module")
def two_node_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayRun]:
    """`ray.cluster_utils.Cluster`: a head and a worker node (one CPU each) on 127.0.0.1."""
    from ray.cluster_utils import Cluster

    logs = tmp_path_factory.mktemp("logs")
    node: dict[str, Any] = {"num_cpus": 1, "node_ip_address": LOOPBACK}
    temp_dir = tmp_path_factory.mktemp("ray")
    with cluster_environment(temp_dir):
        cluster = Cluster(
            initialize_head=True,
            head_node_args={**node, "include_dashboard": False, "temp_dir": str(temp_dir / "ray")},
        )
        try:
            cluster.add_node(**node)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address)
            assert_on_loopback()
            yield RayRun(logs, nodes=2, cluster=cluster)
        finally:
            ray.shutdown()
            cluster.shutdown()
            stop_node_writers(logs)
