"""``make_local_app``: the gateway's HTTP app over in-process clients (no Ray).

For tests, notebooks and benchmarks; the Serve gateway builds the same app from the same
``make_services`` with deployment handles instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from echoray.api.app import make_app
from echoray.config import EchoRayConfig
from echoray.embeddings import Embedder
from echoray.engines.host import EngineHost
from echoray.memory.core import MemoryShardCore
from echoray.services.local import local_clients
from echoray.services.wiring import make_services


def make_local_app(
    config: EchoRayConfig,
    hosts: dict[str, EngineHost],
    embedder: Embedder | None = None,
    shards: Sequence[MemoryShardCore] | None = None,
) -> FastAPI:
    """The gateway app over in-process engine hosts, and the embedder and memory shards
    when given (memory needs the embedder)."""
    return make_app(make_services(config, local_clients(config, hosts, embedder, shards)), config)
