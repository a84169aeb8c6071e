"""The dashboard's data endpoints and page in process (httpx ASGITransport): the fake
engine, the hashing embedder and real LanceDB shards on a temporary folder, auth on.
Admin keys only, one tenant's data never under another, bad input a 4xx in the usual
error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from echoray.api.local import make_local_app
from echoray.embeddings.hashed import HashEmbedder
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config
from tests.integration.dashboard.seed import (
    ADMIN_KEY,
    FACT,
    OLD,
    QUESTION,
    TENANT,
    USER,
    bearer,
    chat,
    config_args,
    consolidate,
    seed_memories,
)

API = "/v1/admin/dashboard"
ALICE = {"tenant": TENANT, "user": USER}
GETS = [
    ("/memories", ALICE),
    ("/graph", {**ALICE, "memory": "biscuit"}),
    ("/traces", ALICE),
    ("/archive", ALICE),
    ("/consolidation", {"tenant": TENANT}),
    ("/figures", {}),
]


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = fake_config(**config_args(str(tmp_path)))
    hosts = make_local_hosts(config)
    for host in hosts.values():
        host.start_background()
        await host.wait_ready()
    app = make_local_app(config, hosts, HashEmbedder(), make_local_shards(config, 384))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await seed_memories(client)
        yield client
        await app.state.chat_memory.drain()


async def admin(http: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    reply = await http.get(f"{API}{path}", params=params, headers=bearer(ADMIN_KEY))
    assert reply.status_code == 200, reply.text
    return reply.json()


def assert_error(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return error


async def test_every_data_endpoint_needs_an_admin_key(http: httpx.AsyncClient) -> None:
    restore = f"{API}/archive/old/restore"
    for path, params in GETS:
        assert_error(await http.get(f"{API}{path}", params=params), 401)
        tenant_key = bearer("sk-acme")  # a tenant's key, even for its own tenant
        assert_error(await http.get(f"{API}{path}", params=params, headers=tenant_key), 403)
        await admin(http, path, **params)
    assert_error(await http.post(restore, json=ALICE), 401)
    assert_error(await http.post(restore, json=ALICE, headers=bearer("sk-acme")), 403)


async def test_the_memory_table_lists_searches_and_keeps_tenants_apart(
    http: httpx.AsyncClient,
) -> None:
    listed = await admin(http, "/memories", **ALICE)
    by_id = {m["id"]: m for m in listed["data"]}
    assert set(by_id) == {"biscuit", "lisbon", "chef", "old"}
    biscuit = by_id["biscuit"]
    assert biscuit["text"] == FACT and biscuit["kind"] == "episodic"
    assert biscuit["importance"] == 0.9 and biscuit["score"] is None
    assert {"valence", "arousal", "strength", "created_at", "last_accessed"} <= set(biscuit)
    found = await admin(http, "/memories", **ALICE, query="beagle Biscuit shoes", limit=2)
    assert found["data"][0]["id"] == "biscuit" and found["data"][0]["score"] > 0
    assert found["data"][0]["importance"] == 0.9  # the whole record, not just the hit
    # The same user name at another tenant is another user; an unknown tenant has nobody.
    theirs = await admin(http, "/memories", tenant="other", user=USER)
    assert [m["id"] for m in theirs["data"]] == ["theirs"]
    assert (await admin(http, "/memories", tenant="nobody", user=USER))["data"] == []
    searched = await admin(http, "/memories", tenant="other", user=USER, query=FACT)
    assert [m["id"] for m in searched["data"]] == ["theirs"]


async def test_the_graph_shows_the_links_around_a_memory(http: httpx.AsyncClient) -> None:
    graph = await admin(http, "/graph", **ALICE, memory="biscuit")
    depths = {n["id"]: n["depth"] for n in graph["nodes"]}
    # The three memories of one session, written together, are linked in time.
    assert graph["center"] == "biscuit" and depths == {"biscuit": 0, "lisbon": 1, "chef": 1}
    assert all("biscuit" in (k["src"], k["dst"]) for k in graph["links"])
    assert {k["kind"] for k in graph["links"]} >= {"temporal"}
    deeper = await admin(http, "/graph", **ALICE, memory="biscuit", depth=2)
    assert len(deeper["links"]) >= len(graph["links"])
    unknown = await http.get(
        f"{API}/graph", params={**ALICE, "memory": "nope"}, headers=bearer(ADMIN_KEY)
    )
    assert assert_error(unknown, 404)["type"] == "not_found_error"
    theirs = {"tenant": "other", "user": USER, "memory": "biscuit"}
    assert_error(await http.get(f"{API}/graph", params=theirs, headers=bearer(ADMIN_KEY)), 404)


async def test_recent_chats_carry_their_trace(http: httpx.AsyncClient) -> None:
    await chat(http, "hello there")
    reply = await chat(http)
    assert "echo" not in reply  # the client did not ask for the trace; the dashboard has it
    traces = (await admin(http, "/traces", **ALICE))["data"]
    assert [t["query"] for t in traces] == [QUESTION, "hello there"]  # newest first
    newest = traces[0]
    assert newest["request_id"] == reply["id"].removeprefix("chatcmpl-")
    assert newest["model"] == "fake" and newest["answer"] == f"You said: {QUESTION}"
    recalled = newest["trace"]["memories"]
    assert recalled[0]["text"] == FACT and recalled[0]["score"] > 0 and recalled[0]["components"]
    assert {"memory_fetch", "inference"} <= set(newest["trace"]["stages_ms"])
    assert (await admin(http, "/traces", **ALICE, limit=1))["data"] == traces[:1]
    assert (await admin(http, "/traces", tenant="other", user=USER))["data"] == []


async def test_consolidation_archives_and_the_dashboard_restores(
    http: httpx.AsyncClient,
) -> None:
    run = await consolidate(http)
    assert run["state"] == "done" and run["counts"]["archived"] == 1, run
    view = await admin(http, "/consolidation", tenant=TENANT)
    assert [r["run_id"] for r in view["history"]] == [run["run_id"]]
    assert view["totals"]["archived"] == 1
    assert (await admin(http, "/consolidation", tenant="other"))["history"] == []
    archived = (await admin(http, "/archive", **ALICE))["data"]
    assert [(m["id"], m["text"], m["archive_reason"]) for m in archived] == [
        ("old", OLD, "forgotten")
    ]
    assert (await admin(http, "/archive", tenant="other", user=USER))["data"] == []

    restore = f"{API}/archive/old/restore"
    other = {"tenant": "other", "user": USER}
    assert_error(await http.post(restore, json=other, headers=bearer(ADMIN_KEY)), 404)
    restored = await http.post(restore, json=ALICE, headers=bearer(ADMIN_KEY))
    assert restored.status_code == 200, restored.text
    assert restored.json()["id"] == "old" and restored.json()["last_accessed"] is not None
    assert (await admin(http, "/archive", **ALICE))["data"] == []
    assert "old" in {m["id"] for m in (await admin(http, "/memories", **ALICE))["data"]}
    assert_error(await http.post(restore, json=ALICE, headers=bearer(ADMIN_KEY)), 404)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/memories", {"tenant": "bad tenant!", "user": USER}),
        ("/memories", {"tenant": TENANT, "user": "x' OR '1'='1"}),
        ("/memories", {"tenant": TENANT}),
        ("/memories", {**ALICE, "limit": 10_000}),
        ("/graph", {**ALICE, "memory": "../etc"}),
        ("/graph", {**ALICE, "memory": "biscuit", "depth": 3}),
        ("/traces", {**ALICE, "limit": 0}),
        ("/consolidation", {"tenant": ""}),
    ],
)
async def test_bad_input_is_a_422_naming_it(
    http: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> None:
    reply = await http.get(f"{API}{path}", params=params, headers=bearer(ADMIN_KEY))
    assert_error(reply, 422)


async def test_a_bad_restore_body_or_id_is_a_422(http: httpx.AsyncClient) -> None:
    admin_key = bearer(ADMIN_KEY)
    restore = f"{API}/archive/old/restore"
    for body in ({"user": USER}, {**ALICE, "extra": 1}, {**ALICE, "tenant": "a b"}):
        assert_error(await http.post(restore, json=body, headers=admin_key), 422)
    bad_id = await http.post(f"{API}/archive/bad'id/restore", json=ALICE, headers=admin_key)
    assert_error(bad_id, 422)


async def test_live_figures_come_from_the_gateways_metrics(http: httpx.AsyncClient) -> None:
    await chat(http)
    figures = await admin(http, "/figures")
    requests = figures["requests"]
    # The seeding and the chat so far, this call being still in flight.
    assert requests["total"] >= 3 and requests["by_status"]["2xx"] >= 3
    assert requests["in_flight"] == 1
    routes = {(r["method"], r["route"]): r for r in figures["latency"]}
    chats = routes["POST", "/v1/chat/completions"]
    assert chats["count"] == 1 and 0 < chats["p50_ms"] <= chats["p95_ms"]
    (fake,) = (m for m in figures["models"] if m["model"] == "fake")
    assert fake["tokens_out"] > 0 and fake["generations"] == 1
    assert [s["shard"] for s in figures["shards"]] == [0, 1]
    assert all(s["up"] == 1 for s in figures["shards"])
    assert sum(s["memories"] for s in figures["shards"]) >= 5  # the seeds and the chat turn
    assert {s["stage"] for s in figures["stages"]} >= {"memory_fetch", "inference"}
    assert figures["memories_ingested"]["inserted"] == 5


async def test_the_page_is_served_from_the_package_with_a_strict_policy(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<script src="/dashboard/dashboard.js"' in page.text and "http" not in page.text
    script = await http.get("/dashboard/dashboard.js")
    assert script.status_code == 200 and "text/javascript" in script.headers["content-type"]
    style = await http.get("/dashboard/dashboard.css")
    assert style.status_code == 200 and "text/css" in style.headers["content-type"]
    for missing in ("/dashboard/nope.js", "/dashboard/..%2Fapp.py"):
        assert_error(await http.get(missing), 404)
    paths = (await http.get("/openapi.json")).json()["paths"]
    assert "/dashboard" not in paths and f"{API}/memories" in paths
