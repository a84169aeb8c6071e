"""One loopback multi-node Ray cluster for the module: a head that runs Serve (every
deployment asks for the head's ``gateway_node`` resource) and two worker nodes that
advertise ``memory_node``, where the memory shards and consolidation tasks run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cluster import wait_ready
from tests.cluster.loopback import LoopbackCluster, free_port

HEAD = {"gateway_node": 100.0}
MEMORY = {"memory_node": 100.0}
ON_HEAD = {"num_cpus": 0.1, "resources": {"gateway_node": 1.0}}


def app_args(storage: Path) -> dict[str, Any]:
    return {
        "models": [{"name": "fake", "engine": {"kind": "fake"}, "deployment": ON_HEAD}],
        "embeddings": {"kind": "hash", "deployment": ON_HEAD},
        "cognition": {
            "deployment": ON_HEAD,
            "memory_deadline_ms": 2000,
            "pipeline_deadline_ms": 5000,
        },
        "server": {"gateway": {**ON_HEAD, "max_ongoing_requests": 256}},
        "storage": {"uri": str(storage)},
        "memory": {"num_shards": 4, "ray_resources": {"memory_node": 1.0}},
        "consolidation": {"enabled": False, "compact": False, "pause_between_users_s": 0.5},
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    from echoray.serve.proxy import PROXY_CALLBACK, PROXY_CALLBACK_ENV

    # Loopback only, so Ray's token auth is off on every node and the driver alike (Ray
    # turns it on where ~/.ray/auth_token exists, and a node without it cannot join).
    os.environ["RAY_AUTH_MODE"] = "disabled"
    loopback = LoopbackCluster(env={PROXY_CALLBACK_ENV: PROXY_CALLBACK})
    try:
        loopback.start_head(num_cpus=4, resources=HEAD)
        loopback.add_worker(num_cpus=2, resources=MEMORY)
        loopback.add_worker(num_cpus=2, resources=MEMORY)
        yield loopback
    finally:
        loopback.stop()


@pytest.fixture(scope="module")
def service(
    cluster: LoopbackCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The echoray app on the cluster; yields its URL and its storage folder."""
    import ray
    from ray import serve

    from echoray.serve.app import build_app

    storage = tmp_path_factory.mktemp("cluster-data") / "db"
    ray.init(address=cluster.address, log_to_driver=False)
    port = free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(app_args(storage), environ={}), name="echoray", route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/readyz", timeout=180)
    try:
        yield url, storage
    finally:
        serve.shutdown()
        ray.shutdown()
