"""``echoray.client`` against the app in process: memory calls and typed errors."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from echoray import errors
from echoray.api.local import make_local_app
from echoray.client import AsyncEchoRay
from echoray.embeddings.hashed import HashEmbedder
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config


@pytest.fixture
async def client(tmp_path: Path):
    config = fake_config(
        storage={"uri": str(tmp_path / "db")}, memory={"group_commit_window_ms": 1}
    )
    hosts = make_local_hosts(config)
    for host in hosts.values():
        host.start_background()
        await host.wait_ready()
    app = make_local_app(config, hosts, HashEmbedder(), make_local_shards(config, 384))
    transport = httpx.ASGITransport(app=app)
    chat_http = httpx.AsyncClient(transport=transport)
    async with AsyncEchoRay("http://t", transport=transport, chat_http_client=chat_http) as er:
        yield er
    await chat_http.aclose()


async def test_memory_round_trip_and_typed_errors(client: AsyncEchoRay) -> None:
    stored = await client.memories.add("alice", "Alice's sister lives in Lisbon", session="s1")
    await client.memories.add_batch("alice", [{"text": "Alice is a nurse"}, {"text": "Alice runs"}])
    hits = await client.memories.search("alice", "sister Lisbon", limit=2)
    assert hits[0]["id"] == stored["id"]
    page = await client.memories.list_page("alice", limit=2)
    assert len(page["data"]) == 2 and page["next_cursor"]
    updated = await client.memories.update("alice", stored["id"], importance=0.9)
    assert updated["importance"] == 0.9
    assert await client.memories.links("alice", stored["id"]) == []
    await client.memories.delete("alice", stored["id"])
    with pytest.raises(errors.NotFoundError):
        await client.memories.get("alice", stored["id"])
    with pytest.raises(errors.UnprocessableEntityError):
        await client.memories.search("bad user!", "x")
    assert await client.memories.forget_user("alice") == 2


async def test_feedback_on_an_answer(client: AsyncEchoRay) -> None:
    await client.memories.add("bob", "Bob keeps bees on the roof")
    reply = await client.chat.chat.completions.create(
        model="fake", user="bob", messages=[{"role": "user", "content": "Where are my bees?"}]
    )
    rated = await client.feedback(reply.id, -1.0, user="bob", comment="not helpful")
    assert rated["request_id"] == reply.id and rated["memories_updated"] == 1
    with pytest.raises(errors.NotFoundError):
        await client.feedback("chatcmpl-never-seen", 1.0, user="bob")
    with pytest.raises(errors.UnprocessableEntityError):
        await client.feedback(reply.id, 2.0, user="bob")
