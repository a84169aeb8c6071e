"""The memory API in process (fake engine, HashEmbedder, real LanceDB on a temp folder)
behind ``AsyncEchoRay``, for the jobs; ``Crashing`` fails the transport after N batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from echoray.api.local import make_local_app
from echoray.client import AsyncEchoRay
from echoray.embeddings.hashed import HashEmbedder
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config


class Crashing(httpx.AsyncBaseTransport):
    """Forwards to ``inner``; after ``batches`` batch posts it fails every request: before
    the server sees it, or (``after_ack``) once the server has stored it but before the
    client hears back, the worst moment for a checkpoint."""

    def __init__(self, inner: httpx.AsyncBaseTransport, batches: int, after_ack: bool) -> None:
        self.inner = inner
        self.batches = batches
        self.after_ack = after_ack
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        is_batch = request.url.path == "/v1/memories/batch"
        if is_batch and self.sent >= self.batches:
            if self.after_ack:
                await self.inner.handle_async_request(request)
            raise httpx.ConnectError("simulated crash", request=request)
        self.sent += is_batch
        return await self.inner.handle_async_request(request)


@dataclass
class Server:
    transport: httpx.ASGITransport

    def client(self, crash_after: int | None = None, after_ack: bool = False) -> AsyncEchoRay:
        transport: httpx.AsyncBaseTransport = self.transport
        if crash_after is not None:
            transport = Crashing(self.transport, crash_after, after_ack)
        return AsyncEchoRay("http://echoray.test", transport=transport)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    config = fake_config(
        storage={"uri": str(tmp_path / "db")},
        memory={"group_commit_window_ms": 1},
        cognition={"enabled": False},
    )
    hosts = make_local_hosts(config)
    app = make_local_app(config, hosts, HashEmbedder(), make_local_shards(config, 384))
    for host in hosts.values():
        await host.wait_ready()
    yield Server(httpx.ASGITransport(app=app))


async def count(client: AsyncEchoRay, user: str) -> tuple[int, set[str]]:
    """How many memories ``user`` has, and their ids (paging through the list)."""
    ids: list[str] = []
    cursor = None
    while True:
        page = await client.memories.list_page(user, limit=100, cursor=cursor)
        ids += [m["id"] for m in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            return len(ids), set(ids)
