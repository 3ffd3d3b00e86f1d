"""batch_process(engine="ray") on two Ray nodes on one machine (`ray.cluster_utils.Cluster`),
each with its own log directory and writer, both uploading to one S3 prefix (moto's server on
127.0.0.1): every row's events exactly once on S3 and, after `parquet-logger lake commit`, in
the Delta table."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from tests.ray.conftest import SKIP_REASON

ray = pytest.importorskip("ray", reason=SKIP_REASON)

from parquet_logger import ParquetLogger, S3Config, WorkerLostError, with_tags
from parquet_logger.batch.job import batch_process
from parquet_logger.batch.run import batch_run
from parquet_logger.lake import LakeSource
from parquet_logger.lake.cli import EXIT_OK, main
from tests.batch_models import ScriptedChat
from tests.lake.tables import table_event_ids
from tests.ray.conftest import RayRun
from tests.ray.models import NodeBoundChat
from tests.s3_server import REGION, S3Server

# The fixtures, registered by importing them (the redundant alias marks a deliberate import).
from tests.s3_server import s3_bucket_fixture as s3_bucket_fixture
from tests.s3_server import s3_server_fixture as s3_server_fixture
from tests.support import read_rows, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ROWS = 60
EVENTS = ["chat_model_start", "llm_end", "llm_error"]


def s3_rows(server: S3Server, bucket: str, prefix: str) -> tuple[list[str], pd.DataFrame]:
    """The Parquet keys under `prefix`, and every row they hold (pyarrow's own S3 client)."""
    keys = [
        item["Key"]
        for page in server.client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if item["Key"].endswith(".parquet")
    ]
    dataset = ds.dataset(
        [f"{bucket}/{key}" for key in keys],
        filesystem=server.filesystem(),
        format="parquet",
        partitioning=ds.HivePartitioning.discover(),
        partition_base_dir=f"{bucket}/{prefix}",
    )
    return keys, dataset.to_table().to_pandas()


async def test_each_node_writes_and_uploads_every_row_once(
    two_node_ray: RayRun, s3_server: S3Server, s3_bucket: str
) -> None:
    """batch_process connects to the cluster (address=); both nodes' writers log into their
    own directories and upload to one prefix under names that never collide; S3 and the
    Delta table hold each row's events exactly once."""
    prefix = "fleet/ray-job/"
    df = pd.DataFrame(
        {
            "prompt": [f"fail {i}" if i % 10 == 3 else f"q {i}" for i in range(ROWS)],
            "config": [with_tags(custom_id=f"row-{i}") for i in range(ROWS)],
        }
    )
    node_dirs = two_node_ray.logs / "nodes"
    ray.shutdown()  # batch_process connects by itself, to address=
    results = await batch_process(
        df,
        ScriptedChat(),
        job_category="ray-job",
        output_dir=two_node_ray.logs / "driver",
        s3_config=S3Config(s3_bucket, endpoint_url=s3_server.endpoint_url, region=REGION),
        s3_prefix_template="fleet/{job_category}",
        engine="ray",
        address=two_node_ray.cluster.address,
        ray_log_dir=str(node_dirs / "node-{node_id}"),
        max_concurrency=4,
        event_types=EVENTS,
        flush_interval_s=0.5,
        show_progress=False,
    )
    assert results is not None
    assert ray.is_initialized()
    assert [isinstance(r, ValueError) for r in results] == [i % 10 == 3 for i in range(ROWS)]

    local = sorted(node_dirs.glob("node-*"))
    assert len(local) == 2  # one directory per node, each with its own writer's files
    local_names = [sorted(p.name for p in d.rglob("part-*.parquet")) for d in local]
    assert all(local_names)
    keys, rows = s3_rows(s3_server, s3_bucket, prefix)
    assert sorted(Path(k).name for k in keys) == sorted(local_names[0] + local_names[1])
    assert len(set(keys)) == len(keys)

    assert rows["event_id"].is_unique
    per_row = rows.groupby(["custom_id", "event_type"]).size().unstack(fill_value=0)
    assert len(per_row) == ROWS
    assert (per_row["chat_model_start"] == 1).all()
    assert ((per_row["llm_end"] + per_row["llm_error"]) == 1).all()
    local_rows = pd.concat([read_rows(d) for d in local])
    assert sorted(local_rows["event_id"]) == sorted(rows["event_id"])

    uri = f"s3://{s3_bucket}/{prefix.rstrip('/')}"
    options = ["--s3-endpoint-url", s3_server.endpoint_url, "--s3-region", REGION]
    assert main(["commit", uri, *options]) == EXIT_OK
    source = LakeSource(uri, s3_server.endpoint_url, REGION)
    assert table_event_ids(source) == sorted(rows["event_id"])


async def test_a_node_lost_mid_job_fails_only_its_unreported_rows(two_node_ray: RayRun) -> None:
    """The worker node removed (killed) while its task runs: the rows it had not reported
    fail with WorkerLostError, every other row is answered and logged once on the head node.
    (Last in this module: the cluster has one node afterwards.)"""
    cluster = two_node_ray.cluster
    (lost_node,) = cluster.worker_nodes
    marker = two_node_ray.logs / "hanging"
    node_dirs = two_node_ray.logs / "lost"
    prompts = [f"pid {i}" for i in range(ROWS)]
    df = pd.DataFrame(
        {"prompt": prompts, "config": [with_tags(custom_id=f"row-{i}") for i in range(ROWS)]}
    )
    with ParquetLogger(two_node_ray.logs / "lost-driver", event_types=EVENTS) as logger:
        job = asyncio.ensure_future(
            batch_run(
                df,
                NodeBoundChat(hang_on_node=lost_node.node_id, marker=str(marker)),
                callbacks=[logger],
                engine="ray",
                ray_log_dir=str(node_dirs / "node-{node_id}"),
                max_concurrency=4,
                show_progress=False,
            )
        )
        await asyncio.to_thread(wait_for, marker.exists, 60, "a task hanging on the worker node")
        cluster.remove_node(lost_node, allow_graceful=False)
        results = await asyncio.wait_for(job, 90)
    assert results is not None
    lost = [i for i, r in enumerate(results) if isinstance(r, WorkerLostError)]
    answered = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
    assert lost
    assert sorted(lost + answered) == list(range(ROWS))
    head_dir = node_dirs / f"node-{cluster.head_node.node_id}"
    rows = read_rows(head_dir)
    ends = rows[rows["event_type"] == "llm_end"].groupby("custom_id").size()
    assert set(ends.index) == {f"row-{i}" for i in answered}
    assert set(ends) == {1}
