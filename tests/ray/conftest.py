"""One local Ray cluster and Serve instance for the whole Ray test session.

Logical CPUs are oversubscribed on purpose: replicas ask for fractions of a CPU and this
machine has two cores; Ray only uses the count for placement.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DASHBOARD_PORT = free_port()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    import ray

    from echoray.serve.proxy import use_echoray_proxy_middlewares

    use_echoray_proxy_middlewares()  # as `echoray serve` does: one well-formed request id
    # The dashboard serves the job submission API that `ray job submit` talks to.
    ray.init(
        address="local",  # a new cluster, even where `ray start` left its address behind
        num_cpus=8,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=DASHBOARD_PORT,
        namespace="echoray-tests",
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def dashboard_url(ray_cluster: None) -> str:
    """The session cluster's dashboard (``ray job submit --address`` takes it)."""
    return f"http://127.0.0.1:{DASHBOARD_PORT}"


@pytest.fixture(scope="session")
def serve_port(ray_cluster: None) -> Iterator[int]:
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield port
    serve.shutdown()


@pytest.fixture(scope="session")
def echoray_app(
    serve_port: int, dashboard_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """One shared echoray app for the session's job and notebook tests: the fake engine
    (model ``fake``), the real all-MiniLM-L6-v2 embedder and memory on disk, deployed as
    app ``echoray-shared`` under ``/shared``; yields ``(http_url, dashboard_url)``.

    Its memory shards are its own (their actor names hash ``storage.uri``), so tests share
    its data only through it: use distinct users. Background consolidation is off, so only
    a test's own admin run changes memory. test_serve_app.py's ``echoray`` app at ``/``
    coexists with this one (different name and route prefix).
    """
    import httpx
    from ray import serve

    from echoray.serve.app import build_app

    app = build_app(
        {
            "models": [
                {"name": "fake", "engine": {"kind": "fake"}, "deployment": {"num_cpus": 0.1}}
            ],
            "storage": {"uri": str(tmp_path_factory.mktemp("shared-data"))},
            "server": {"gateway": {"num_cpus": 0.1}},
            "consolidation": {"enabled": False},
        },
        environ={},
    )
    serve.run(app, name="echoray-shared", route_prefix="/shared", blocking=False)
    url = f"http://127.0.0.1:{serve_port}/shared"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        raise AssertionError("the shared echoray app did not become ready in 180 s")
    yield url, dashboard_url
    serve.delete("echoray-shared")
