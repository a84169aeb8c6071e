"""The memory API over HTTP (in process): real LanceDB on a temp folder, hash embedder."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from echoray.api.local import make_local_app
from echoray.embeddings.hashed import HashEmbedder
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config

KEYS = {"key-acme": "acme", "key-globex": "globex"}


@pytest.fixture
async def api(tmp_path: Path):
    config = fake_config(
        auth={"enabled": True, "api_keys": KEYS},
        storage={"uri": str(tmp_path / "db")},
        memory={"num_shards": 2, "max_batch": 5, "max_limit": 20, "group_commit_window_ms": 1},
    )
    shards = make_local_shards(config, 384)
    app = make_local_app(config, make_local_hosts(config), HashEmbedder(), shards)
    transport = httpx.ASGITransport(app=app)

    def client(key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport, base_url="http://t", headers={"authorization": f"Bearer {key}"}
        )

    async with client("key-acme") as acme, client("key-globex") as globex:
        yield acme, globex


async def test_create_get_list_patch_delete(api) -> None:
    acme, _ = api
    created = await acme.post(
        "/v1/memories",
        json={
            "user": "u1",
            "text": "I adopted a cat named Miso",
            "session": "s1",
            "metadata": {"topic": "pets"},
            "created_at": "2024-05-01T10:00:00Z",
        },
    )
    assert created.status_code == 201, created.text
    memory = created.json()
    assert memory["created_at"].startswith("2024-05-01") and memory["metadata"] == {"topic": "pets"}
    got = await acme.get(f"/v1/memories/{memory['id']}", params={"user": "u1"})
    assert got.json()["text"] == "I adopted a cat named Miso"
    patched = await acme.patch(f"/v1/memories/{memory['id']}", json={"user": "u1", "pinned": True})
    assert patched.json()["pinned"] is True
    listing = await acme.get("/v1/memories", params={"user": "u1", "limit": 10})
    assert [m["id"] for m in listing.json()["data"]] == [memory["id"]]
    assert (
        await acme.delete(f"/v1/memories/{memory['id']}", params={"user": "u1"})
    ).status_code == 200
    missing = await acme.get(f"/v1/memories/{memory['id']}", params={"user": "u1"})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


async def test_batch_search_filters_and_links(api) -> None:
    acme, _ = api
    texts = [
        "I love hiking in the alps",
        "My sister lives in Lisbon",
        "I work as a nurse",
        "Hiking boots are on sale",
        "I visited Lisbon last spring",
    ]
    batch = await acme.post(
        "/v1/memories/batch",
        json={
            "user": "u1",
            "memories": [{"text": t, "session": "s1"} for t in texts],
        },
    )
    assert batch.json()["inserted"] == 5
    again = await acme.post(
        "/v1/memories/batch",
        json={
            "user": "u1",
            "memories": [
                {"id": i, "text": t} for i, t in zip(batch.json()["ids"], texts, strict=True)
            ],
        },
    )
    assert again.json() == {"ids": batch.json()["ids"], "inserted": 0, "existing": 5}
    found = await acme.post(
        "/v1/memories/search", json={"user": "u1", "query": "Lisbon", "limit": 2}
    )
    results = found.json()["results"]
    assert {r["text"] for r in results} == {texts[1], texts[4]}
    assert all(r["why"]["lexical_rank"] for r in results)
    only_session = await acme.post(
        "/v1/memories/search",
        json={"user": "u1", "query": "Lisbon", "filters": {"session": "other"}},
    )
    assert only_session.json()["results"] == []
    links = await acme.get(f"/v1/memories/{batch.json()['ids'][1]}/links", params={"user": "u1"})
    assert links.status_code == 200 and links.json()["links"]  # same session, close in time


async def test_tenants_and_users_are_isolated(api) -> None:
    acme, globex = api
    secret = (
        await acme.post("/v1/memories", json={"user": "u1", "text": "acme secret plan"})
    ).json()
    # another tenant, even with the right user and a guessed id, sees nothing
    assert (
        await globex.get(f"/v1/memories/{secret['id']}", params={"user": "u1"})
    ).status_code == 404
    assert (await globex.get("/v1/memories", params={"user": "u1"})).json()["data"] == []
    search = await globex.post("/v1/memories/search", json={"user": "u1", "query": "secret plan"})
    assert search.json()["results"] == []
    assert (
        await globex.patch(f"/v1/memories/{secret['id']}", json={"user": "u1", "pinned": True})
    ).status_code == 404
    assert (
        await globex.delete(f"/v1/memories/{secret['id']}", params={"user": "u1"})
    ).status_code == 404
    assert (await globex.delete("/v1/memories", params={"user": "u1"})).json() == {"deleted": 0}
    # forgetting one user leaves the others
    await acme.post("/v1/memories", json={"user": "u2", "text": "u2 keeps this"})
    assert (await acme.delete("/v1/memories", params={"user": "u1"})).json() == {"deleted": 1}
    assert len((await acme.get("/v1/memories", params={"user": "u2"})).json()["data"]) == 1
    assert (
        await acme.get(f"/v1/memories/{secret['id']}", params={"user": "u1"})
    ).status_code == 404


@pytest.mark.parametrize(
    "hostile",
    [
        "' OR '1'='1",
        "u1' --",
        "a\\\\b",
        "x" * 500,
        "DROP TABLE memories",
        "ünïcödé",
        "u1;u2",
    ],
)
async def test_hostile_identifiers_get_a_clear_4xx_and_read_nothing(api, hostile: str) -> None:
    acme, _ = api
    await acme.post("/v1/memories", json={"user": "u1", "text": "private"})
    listing = await acme.get("/v1/memories", params={"user": hostile})
    assert listing.status_code == 422, listing.text
    search = await acme.post("/v1/memories/search", json={"user": hostile, "query": "private"})
    assert search.status_code == 422
    by_id = await acme.get(f"/v1/memories/{hostile}", params={"user": "u1"})
    assert by_id.status_code in {404, 422}


async def test_metadata_filters_match_literally(api) -> None:
    acme, _ = api
    await acme.post(
        "/v1/memories", json={"user": "u1", "text": "tagged", "metadata": {"tag": "' OR '1'='1"}}
    )
    await acme.post("/v1/memories", json={"user": "u1", "text": "other", "metadata": {"tag": "x"}})
    hits = await acme.post(
        "/v1/memories/search",
        json={
            "user": "u1",
            "query": "tagged other",
            "filters": {"metadata": {"tag": "' OR '1'='1"}},
        },
    )
    assert [r["text"] for r in hits.json()["results"]] == ["tagged"]


async def test_limits(api) -> None:
    acme, _ = api
    too_many = await acme.post(
        "/v1/memories/batch", json={"user": "u1", "memories": [{"text": f"m{i}"} for i in range(6)]}
    )
    assert too_many.status_code == 413
    too_long = await acme.post("/v1/memories", json={"user": "u1", "text": "x" * 9000})
    assert too_long.status_code == 413
    big_limit = await acme.post(
        "/v1/memories/search", json={"user": "u1", "query": "q", "limit": 500}
    )
    assert big_limit.status_code == 422
    no_user = await acme.post("/v1/memories", json={"text": "who?"})
    assert no_user.status_code == 422 and no_user.json()["error"]["param"] == "user"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/memories", {"user": "u1", "text": "hi", "metadata": {"k": "\ud800"}}),
        ("/v1/memories", {"user": "u1", "text": "hi", "metadata": {"\udfff": "v"}}),
        ("/v1/memories/batch", {"user": "u1", "memories": [{"text": "ok"}, {"text": "a\ud800"}]}),
        (
            "/v1/memories/search",
            {"user": "u1", "query": "q", "filters": {"metadata": {"k": "\ud800"}}},
        ),
    ],
)
async def test_a_lone_surrogate_anywhere_is_a_422_and_stores_nothing(api, path, body) -> None:
    acme, _ = api
    # json.dumps escapes the surrogate as \ud800: valid JSON, not valid Unicode text.
    sent = await acme.post(
        path, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert sent.status_code == 422, sent.text
    assert "surrogate" in sent.json()["error"]["message"]
    listing = await acme.get("/v1/memories", params={"user": "u1"})
    assert listing.json()["data"] == []


async def test_loose_types_are_refused_and_store_nothing(api) -> None:
    acme, _ = api
    pinned = await acme.post("/v1/memories", json={"user": "u1", "text": "hi", "pinned": 0})
    assert pinned.status_code == 422 and pinned.json()["error"]["param"] == "pinned"
    limit = await acme.post("/v1/memories/search", json={"user": "u1", "query": "q", "limit": "10"})
    assert limit.status_code == 422 and limit.json()["error"]["param"] == "limit"
    assert (await acme.get("/v1/memories", params={"user": "u1"})).json()["data"] == []
