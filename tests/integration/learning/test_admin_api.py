"""The admin consolidation endpoints and archive/restore through the client, in process
(real LanceDB, the hashing embedder), with auth on: admin keys, tenants, bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from echoray import errors
from echoray.api.local import make_local_app
from echoray.client import AsyncEchoRay
from echoray.embeddings.hashed import HashEmbedder
from echoray.memory.records import utc_now
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config

KEYS = {"sk-acme": "acme", "sk-other": "other", "sk-admin": "ops"}


@pytest.fixture
async def app(tmp_path: Path):
    config = fake_config(
        storage={"uri": str(tmp_path / "db")},
        memory={"group_commit_window_ms": 1},
        embeddings={"kind": "hash"},
        auth={"enabled": True, "api_keys": KEYS, "admin_keys": ["sk-admin"]},
        consolidation={"compact": True},
    )
    return make_local_app(
        config, make_local_hosts(config), HashEmbedder(), make_local_shards(config, 384)
    )


def client_for(app, key: str) -> AsyncEchoRay:
    return AsyncEchoRay("http://t", api_key=key, transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def acme(app) -> AsyncIterator[AsyncEchoRay]:
    async with client_for(app, "sk-acme") as er:
        yield er


async def test_admin_endpoints_need_an_admin_key(app, acme: AsyncEchoRay) -> None:
    with pytest.raises(errors.PermissionDeniedError):
        await acme.admin.consolidate()
    with pytest.raises(errors.PermissionDeniedError):
        await acme.admin.consolidation()
    async with client_for(app, "sk-nobody") as stranger:
        with pytest.raises(errors.AuthenticationError):
            await stranger.admin.consolidation()
    async with client_for(app, "sk-admin") as admin:
        with pytest.raises(errors.UnprocessableEntityError):
            await admin.admin.consolidate(tenant="bad tenant!")
        assert (await admin.admin.consolidation())["history"] == []


async def test_consolidate_then_restore_through_the_api(app, acme: AsyncEchoRay) -> None:
    old = (utc_now() - timedelta(days=800)).isoformat()
    await acme.memories.add("alice", "an old note nobody read again", id="old", created_at=old)
    await acme.memories.add("alice", "Alice lives in Lisbon", id="dup-1")
    await acme.memories.add("alice", "Alice lives in Lisbon", id="dup-2")
    await acme.memories.add("alice", "a pinned old note", id="pin", created_at=old, pinned=True)
    async with client_for(app, "sk-other") as other:
        await other.memories.add("alice", "an old note of another tenant", id="old", created_at=old)

        async with client_for(app, "sk-admin") as admin:
            started = await admin.admin.consolidate(tenant="acme", wait=False)
            assert started["state"] == "running" and started["tenant"] == "acme"
            busy = await admin.admin.consolidate(tenant="acme", wait=True)
            assert busy["state"] == "skipped"  # two runs never share a shard
            while (status := await admin.admin.consolidation())["running"]:
                await asyncio.sleep(0.05)
            run = next(r for r in status["history"] if r["run_id"] == started["run_id"])
            again = await admin.admin.consolidate(tenant="acme", wait=True)
        assert run["state"] == "done", run
        assert run["counts"]["merged"] == 1 and run["counts"]["archived"] == 1
        assert run["counts"]["compacted"] > 0 and run["ms"]["merge"] > 0
        assert again["state"] == "done" and again["counts"]["merged"] == 0
        assert status["totals"]["merged"] == 1
        # Only tenant acme was consolidated: the other tenant's old note is untouched.
        assert (await other.memories.get("alice", "old"))["text"].startswith("an old note")
        with pytest.raises(errors.NotFoundError):  # tenants never restore each other's
            await other.memories.restore("alice", "dup-2")

    archived = {m["id"]: m for m in await acme.memories.archived("alice")}
    assert set(archived) == {"old", "dup-2"}
    assert archived["old"]["archive_reason"] == "forgotten"
    assert archived["dup-2"]["archive_reason"] == "merged into dup-1"
    archived_at = datetime.fromisoformat(archived["old"]["archived_at"])
    assert archived_at >= datetime.fromisoformat(started["started_at"])
    assert (await acme.memories.get("alice", "dup-1"))["metadata"]["merged"] == ["dup-2"]
    with pytest.raises(errors.NotFoundError):
        await acme.memories.get("alice", "old")
    restored = await acme.memories.restore("alice", "old")
    assert restored["id"] == "old" and restored["last_accessed"] > old
    assert (await acme.memories.get("alice", "old"))["text"] == "an old note nobody read again"
    hits = await acme.memories.search("alice", "old note nobody read", limit=3)
    assert hits[0]["id"] == "old"  # back in the working set
    with pytest.raises(errors.NotFoundError):
        await acme.memories.restore("alice", "old")  # no longer archived
    with pytest.raises(errors.UnprocessableEntityError):
        await acme.memories.restore("alice", "bad' OR '1'='1")
    with pytest.raises(errors.UnprocessableEntityError):
        await acme.memories.archived("alice", limit=10_000)


async def test_a_run_started_without_waiting_is_a_documented_202(app) -> None:
    # Fuzzing (#16) found the 202 answer missing from /openapi.json, which listed only 200.
    admin = {"authorization": "Bearer sk-admin"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=admin) as http:
        document = (await http.get("/openapi.json")).json()
        started = await http.post("/v1/admin/consolidate", json={"wait": False})
        assert started.status_code == 202, started.text
        while (await http.get("/v1/admin/consolidation")).json()["running"]:
            await asyncio.sleep(0.05)  # let the run finish before the folder goes
    responses = document["paths"]["/v1/admin/consolidate"]["post"]["responses"]
    assert {"200", "202"} <= set(responses)
