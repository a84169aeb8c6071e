"""Ollama's API in process, driven by the official ``ollama`` client, unchanged: the fake
engine, the hashing embedder and real LanceDB shards on a temporary folder, auth on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

from echoray.api.local import make_local_app
from echoray.embeddings.hashed import HashEmbedder
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config

KEY, TENANT = "sk-acme", "acme"
EMBEDDER = "all-minilm-l6-v2"
FACT = "My beagle Biscuit chewed my running shoes"


@dataclass
class Server:
    app: Any
    http: httpx.AsyncClient

    def ollama(self, **headers: str) -> ollama.AsyncClient:
        """The official client, as a user would make it (the key from OLLAMA_API_KEY)."""
        return ollama.AsyncClient(
            host="http://echoray.test",
            transport=httpx.ASGITransport(app=self.app),
            headers=headers,
        )


@pytest.fixture
async def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    monkeypatch.setenv("OLLAMA_API_KEY", KEY)  # the client sends it as a bearer token
    config = fake_config(
        auth={"enabled": True, "api_keys": {KEY: TENANT}},
        storage={"uri": str(tmp_path / "db")},
        memory={"num_shards": 2, "group_commit_window_ms": 1},
        # Far above the defaults: a first recall on a loaded 2-core machine can pass them.
        cognition={"memory_deadline_ms": 2000, "pipeline_deadline_ms": 10_000},
    )
    hosts = make_local_hosts(config)
    for host in hosts.values():
        host.start_background()
        await host.wait_ready()
    app = make_local_app(config, hosts, HashEmbedder(), make_local_shards(config, 384))
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as h:
        yield Server(app, h)
        await app.state.chat_memory.drain()


def assert_final_stats(last: Any) -> None:
    """The last object of an answer: done, why, token counts, durations in nanoseconds."""
    assert last.done is True and last.done_reason in {"stop", "length"}
    assert last.prompt_eval_count > 0 and last.eval_count > 0
    assert last.load_duration == 0
    for name in ("total_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(last[name], int) and last[name] >= 0, name
    assert last.total_duration >= last.prompt_eval_duration + last.eval_duration
    assert last.total_duration < 60 * 10**9  # nanoseconds, not seconds or milliseconds


async def test_chat_unstreamed_and_streamed(server: Server) -> None:
    client = server.ollama()
    messages = [{"role": "user", "content": "hello there"}]
    reply = await client.chat(model="fake", messages=messages, stream=False)
    assert reply.message.role == "assistant"
    assert reply.message.content == "You said: hello there"
    assert_final_stats(reply)

    parts = [part async for part in await client.chat(model="fake", messages=messages, stream=True)]
    assert len(parts) >= 3 and all(not p.done for p in parts[:-1])
    assert "".join(p.message.content for p in parts) == reply.message.content
    assert parts[-1].message.content == ""
    assert_final_stats(parts[-1])
    assert parts[-1].eval_count == reply.eval_count


async def test_the_stream_is_ndjson_one_object_a_line(server: Server) -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
    response = await server.http.post("/api/chat", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    assert {"created_at", "model", "message"} <= set(lines[0])


async def test_generate_with_the_template_and_raw(server: Server) -> None:
    client = server.ollama()
    reply = await client.generate(model="fake", prompt="tell me", system="Be brief.", stream=False)
    assert reply.response == "You said: tell me"
    assert_final_stats(reply)
    raw = await client.generate(model="fake", prompt="plain text", raw=True, stream=False)
    assert raw.response == "You said: plain text"
    parts = [p async for p in await client.generate(model="fake", prompt="stream me", stream=True)]
    assert "".join(p.response for p in parts) == "You said: stream me"
    assert parts[-1].done and parts[-1].done_reason == "stop"


async def test_options_map_to_sampling_and_unknown_ones_are_ignored(server: Server) -> None:
    client = server.ollama()
    messages = [{"role": "user", "content": "one two three four five six"}]
    short = await client.chat(
        model="fake",
        messages=messages,
        options={"num_predict": 2, "temperature": 0, "seed": 7, "mirostat": 2, "num_ctx": 8192},
        stream=False,
    )
    assert short.eval_count == 2 and short.done_reason == "length"
    stopped = await client.chat(
        model="fake", messages=messages, options={"stop": [" three"]}, stream=False
    )
    assert stopped.message.content == "You said: one two"
    assert stopped.done_reason == "stop"


async def test_a_bare_name_with_latest_and_an_empty_chat_loads(server: Server) -> None:
    client = server.ollama()
    reply = await client.chat(
        model="fake:latest", messages=[{"role": "user", "content": "x"}], stream=False
    )
    assert reply.model == "fake:latest" and reply.message.content == "You said: x"
    loaded = await client.chat(model="fake", messages=[], stream=False)
    assert loaded.done and loaded.done_reason == "load"
    loaded = await client.generate(model="fake", prompt="", stream=False)
    assert loaded.done and loaded.done_reason == "load"


async def test_embed_and_the_older_embeddings_match_the_openai_vectors(server: Server) -> None:
    client = server.ollama()
    embedded = await client.embed(model=EMBEDDER, input=["a beagle", "a pastry chef"])
    assert len(embedded.embeddings) == 2 and len(embedded.embeddings[0]) == 384
    assert embedded.prompt_eval_count > 0
    openai_side = await server.http.post(
        "/v1/embeddings", json={"model": EMBEDDER, "input": ["a beagle", "a pastry chef"]}
    )
    vectors = [item["embedding"] for item in openai_side.json()["data"]]
    for ours, theirs in zip(embedded.embeddings, vectors, strict=True):
        assert list(ours) == pytest.approx(theirs)
    single = await client.embed(model=EMBEDDER, input="a beagle")
    assert single.embeddings[0] == pytest.approx(vectors[0])
    older = await client.embeddings(model=EMBEDDER, prompt="a beagle")
    assert list(older.embedding) == pytest.approx(vectors[0])


async def test_tags_show_ps_and_version(server: Server) -> None:
    client = server.ollama()
    names = [m.model for m in (await client.list()).models]
    assert names == ["fake", EMBEDDER]
    shown = await client.show("fake")
    assert shown.capabilities == ["completion"]
    assert shown.modelinfo is not None
    assert shown.modelinfo["fake.context_length"] == 2048
    assert (await client.show(EMBEDDER)).capabilities == ["embedding"]
    running = (await client.ps()).models
    assert [m.model for m in running] == ["fake", EMBEDDER]
    assert running[0].context_length == 2048
    version = (await server.http.get("/api/version")).json()["version"]
    assert [int(part) for part in version.split(".")] >= [0, 5, 0]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"model": "nope", "messages": []}, 404, 'model "nope" not found'),
        ({"messages": []}, 400, "model"),
        ({"model": "fake", "messages": [{"role": "user"}], "options": {"temperature": "hot"}},
         400, 'option "temperature" must be of type float'),
        ({"model": "fake", "messages": [{"role": "user", "content": "x"}],
          "options": {"temperature": 9}}, 400, "temperature"),
        ({"model": "fake", "messages": [{"role": "user", "content": "x"}],
          "tools": [{"type": "function", "function": {"name": "f"}}]},
         400, "does not support tools"),
        ({"model": "fake", "messages": [{"role": "user", "content": "x", "images": ["aGk="]}]},
         400, "does not support images"),
        ({"model": "fake", "messages": [{"role": "user", "content": "x"}], "format": "json"},
         400, "format"),
        ({"model": "fake", "messages": [{"role": "robot", "content": "x"}]}, 400, "role"),
    ],
)  # fmt: skip
async def test_errors_are_ollamas_shape_and_status(
    server: Server, body: dict[str, Any], status: int, says: str
) -> None:
    response = await server.http.post("/api/chat", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    assert says in response.json()["error"]


async def test_the_client_raises_ollamas_error_and_the_key_is_required(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ollama.ResponseError) as raised:
        await server.ollama().chat(model="nope", messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 404 and raised.value.error == 'model "nope" not found'
    monkeypatch.delenv("OLLAMA_API_KEY")
    with pytest.raises(ollama.ResponseError) as raised:
        await server.ollama().list()
    assert raised.value.status_code == 401 and "API key" in raised.value.error
    bad_json = await server.http.post(
        "/api/generate", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and set(bad_json.json()) == {"error"}
    assert (await server.http.get("/api/nothing")).json() == {"error": "Not Found"}
    too_large = await server.http.post("/api/chat", content=b"x" * (2 << 20))
    assert too_large.status_code == 413 and "larger than the limit" in too_large.json()["error"]


async def test_a_chat_with_a_user_header_recalls_that_users_memory(server: Server) -> None:
    created = await server.http.post("/v1/memories", json={"user": "hal", "text": FACT})
    assert created.status_code == 201, created.text
    question = "What did my beagle Biscuit chew?"
    hal = {"X-EchoRay-User": "hal", "X-EchoRay-Trace": "on"}
    # The trace is an extension the ollama client's types drop: read it from the wire.
    echo = (await ollama_chat(server, question, stream=False, **hal))[-1]["echo"]
    assert [m["text"] for m in echo["memories"]][:1] == [FACT]
    assert FACT in echo["context"] and "memory_fetch" in echo["stages_ms"]
    streamed = await ollama_chat(server, question, stream=True, **hal)
    assert len(streamed) > 2 and FACT in streamed[-1]["echo"]["context"]
    # The official client gets the same answer, with memory, unchanged.
    reply = await server.ollama(**hal).chat(
        model="fake", messages=[{"role": "user", "content": question}], stream=False
    )
    assert reply.message.content == f"You said: {question}"

    # Another user (the key's tenant, without the header) does not see hal's memory.
    other = await ollama_chat(server, question, stream=False, **{"X-EchoRay-Trace": "on"})
    assert other[-1]["echo"]["memories"] == []
    assert FACT not in other[-1]["echo"]["context"]


async def ollama_chat(
    server: Server, text: str, *, stream: bool, **headers: str
) -> list[dict[str, Any]]:
    """The objects of one ``/api/chat`` answer, read from the wire."""
    body = {"model": "fake", "messages": [{"role": "user", "content": text}], "stream": stream}
    response = await server.http.post("/api/chat", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


async def test_the_exchange_is_captured_and_memory_can_be_turned_off(server: Server) -> None:
    said = "My favourite tea is a smoky lapsang souchong"
    client = server.ollama(**{"X-EchoRay-User": "ivy", "X-EchoRay-Session": "s1"})
    await client.chat(model="fake", messages=[{"role": "user", "content": said}], stream=False)
    await server.app.state.chat_memory.drain()
    listed = (await server.http.get("/v1/memories", params={"user": "ivy"})).json()["data"]
    assert any(said in m["text"] for m in listed), listed

    quiet = server.ollama(
        **{"X-EchoRay-User": "ivy", "X-EchoRay-Memory": "off", "X-EchoRay-Trace": "on"}
    )
    reply = await quiet.chat(
        model="fake", messages=[{"role": "user", "content": "forget this"}], stream=False
    )
    assert "echo" not in reply.model_dump()
    await server.app.state.chat_memory.drain()
    again = (await server.http.get("/v1/memories", params={"user": "ivy"})).json()["data"]
    assert len(again) == len(listed)
