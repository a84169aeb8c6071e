"""One local Ray cluster and Serve instance for the whole Ray test session.

Logical CPUs are oversubscribed on purpose: replicas ask for fractions of a CPU and this
machine has two cores; Ray only uses the count for placement.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    import ray

    ray.init(num_cpus=8, include_dashboard=False, namespace="echoray-tests", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def serve_port(ray_cluster: None) -> Iterator[int]:
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield port
    serve.shutdown()
