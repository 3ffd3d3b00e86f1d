"""Real Ray clusters for the tests in this folder, one per module (Ray takes seconds to
start): all their traffic on 127.0.0.1, their state in the test's temporary folder, and every
node writer they started stopped at teardown.

Skipped as a whole when Ray is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason='Ray is not installed: pip install "parquet-logger[ray]"')

from parquet_logger.transport.statedir import STATE_FOLDER  # noqa: E402
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY  # noqa: E402
from tests.support import stop_writer  # noqa: E402

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


@contextmanager
def cluster_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CLUSTER_ENV.items():
            patch.setenv(name, value)
        for name in ("RAY_ADDRESS", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        yield


def stop_node_writers(logs: Path) -> None:
    """Once Ray is down (no worker attached any more): every writer under `logs` exits."""
    for state_folder in logs.rglob(STATE_FOLDER):
        stop_writer(state_folder.parent, timeout=30.0)


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayRun]:
    """`ray.init(num_cpus=2)`: a one-node local Ray on 127.0.0.1."""
    logs = tmp_path_factory.mktemp("logs")
    with cluster_environment():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address=LOOPBACK,
            _temp_dir=str(tmp_path_factory.mktemp("ray")),
        )
        try:
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
    with cluster_environment():
        cluster = Cluster(
            initialize_head=True,
            head_node_args={
                **node,
                "include_dashboard": False,
                "_temp_dir": str(tmp_path_factory.mktemp("ray")),
            },
        )
        try:
            cluster.add_node(**node)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address)
            yield RayRun(logs, nodes=2)
        finally:
            ray.shutdown()
            cluster.shutdown()
            stop_node_writers(logs)
