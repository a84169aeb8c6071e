"""A local Ray cluster with Serve on a free loopback port, for the serving benchmarks."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_serve() -> Iterator[int]:
    """Start Ray and Serve; yield the HTTP port; shut both down afterwards."""
    import ray
    from ray import serve

    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False, namespace="echoray-bench")
    port = free_port()
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        yield port
    finally:
        serve.shutdown()
        ray.shutdown()


def wait_ready(url: str, timeout: float = 300) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout} s")
