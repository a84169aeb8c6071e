"""Property-based tests of the HTTP API from its own ``/openapi.json`` (schemathesis).

Every documented operation gets a bounded number of generated requests, valid and
invalid, against the in-process app: the fake engine, the hashing embedder and real
LanceDB shards on a temporary folder, with auth on. Each response must

- not be a 5xx,
- match what ``/openapi.json`` documents (status, content type, headers, body), and
- when it is not a 2xx, be OpenAI's error object ``{"error": {message, type, param, code}}``,
  or under ``/api/`` (Ollama's API) Ollama's ``{"error": "..."}``.

Generation is seeded and derandomized, so CI runs the same cases every time; set
ECHORAY_FUZZ_EXAMPLES (and ECHORAY_FUZZ_SEED) for a deeper run by hand.
"""

from __future__ import annotations

import asyncio
import copy
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from echoray.api.local import make_local_app
from echoray.embeddings.hashed import HashEmbedder
from echoray.engines.host import EngineHost
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config

KEY = "sk-fuzz"  # a tenant key that is also an admin key, so every route is reachable
AUTH = {"authorization": f"Bearer {KEY}"}
SEED = int(os.environ.get("ECHORAY_FUZZ_SEED", "16"))
# Fuzzed cases per operation; the examples and coverage phases add their own.
EXAMPLES = int(os.environ.get("ECHORAY_FUZZ_EXAMPLES", "12"))

# The request schemas that name a model, and the models this app serves for them.
MODELS = {
    "ChatCompletionRequest": ["fake"],
    "CompletionRequest": ["fake"],
    "EmbeddingRequest": ["all-minilm-l6-v2"],
    "OllamaChatRequest": ["fake", "fake:latest"],
    "OllamaGenerateRequest": ["fake"],
    "OllamaEmbedRequest": ["all-minilm-l6-v2"],
    "OllamaEmbeddingsRequest": ["all-minilm-l6-v2"],
}
# A user whose memories exist before each operation's test, so fuzzed calls find some.
USER = "fuzz-user"
MEMORIES = {"fuzz-1": "My beagle Biscuit chews shoes", "fuzz-2": "I work as a pastry chef"}

SENT: list[int] = []  # the status of every case sent, for the count printed at the end


def openai_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """A non-2xx answer is ``{"error": {"message": str, "type": str, "param", "code"}}``
    (``echoray.api.errors.error_body``), whatever its status."""
    if response.status_code < 300:
        return None
    body = response.json()
    if case.path.startswith("/api/"):  # Ollama's API, Ollama's shape
        assert isinstance(body, dict) and set(body) == {"error"}, body
        assert isinstance(body["error"], str) and body["error"], body
        return None
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert error["param"] is None or isinstance(error["param"], str), error
    assert error["code"] is None or isinstance(error["code"], str | int), error
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    openai_error_shape,
]


def make_app(folder: Path) -> tuple[FastAPI, dict[str, EngineHost]]:
    """The gateway app with memory over LanceDB at ``folder``, and its engine hosts."""
    config = fake_config(
        storage={"uri": str(folder / "db")},
        memory={"num_shards": 2, "group_commit_window_ms": 1},
        auth={"enabled": True, "api_keys": {KEY: "acme"}, "admin_keys": [KEY]},
    )
    hosts = make_local_hosts(config)
    return make_local_app(config, hosts, HashEmbedder(), make_local_shards(config, 384)), hosts


def with_lifespan(app: FastAPI, hosts: dict[str, EngineHost]) -> FastAPI:
    """Give the app a lifespan that starts the engines and seeds ``MEMORIES`` and, at its
    end, waits for the background work requests started (chat captures, consolidation).

    Schemathesis runs the lifespan on its own event loop, the one every request then runs
    on, and ends it after each test (operation); the next test starts it again, so the
    start is idempotent and the engines stay up (the fake engine holds nothing to free)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUTH) as t:
            for host in hosts.values():
                await host.wait_ready()
            for memory_id, text in MEMORIES.items():  # a create with an id is idempotent
                seeded = await t.post(
                    "/v1/memories", json={"user": USER, "id": memory_id, "text": text}
                )
                assert seeded.status_code == 201, seeded.text
            yield
            await app.state.chat_memory.drain()
            while (await t.get("/v1/admin/consolidation")).json()["running"]:
                await asyncio.sleep(0.05)

    app.router.lifespan_context = lifespan
    return app


def steered(document: dict[str, Any]) -> dict[str, Any]:
    """Narrow request fields so valid cases get past them (invalid ones still try the
    rest); responses are still checked against the document as served.

    - ``model``: a served one, or every valid chat would be a 404.
    - ``n``: exactly ``1``. For ``minimum == maximum == 1`` the coverage phase sends ``1.0``,
      an integer to JSON Schema, but the server takes only JSON integers (strict, like
      OpenAI), so every such chat was a 422 and none reached the memory pipeline.
    - a message's ``role``: the same roles, ``user`` first, as the coverage phase builds
      most messages from the first; a memory chat with no user turn is a 422."""
    schemas = document["components"]["schemas"]
    for name, models in MODELS.items():
        properties = schemas[name]["properties"]
        properties["model"] = {"type": "string", "enum": models}
        if "n" in properties:
            properties["n"] = {"type": "integer", "enum": [1]}
    for message in ("ChatMessage", "OllamaMessage"):
        role = schemas[message]["properties"]["role"]
        role["enum"] = sorted(role["enum"], key=lambda r: r != "user")
    return document


def load_schema() -> Any:
    """The served document, read at import: schemathesis makes one test per operation at
    collection. The document does not depend on the folder, so a throwaway one serves.
    (``schemathesis.pytest.from_fixture`` would defer this, but it breaks on pytest 9.)"""
    with tempfile.TemporaryDirectory() as folder:
        document = steered(copy.deepcopy(make_app(Path(folder))[0].openapi()))
    loaded = schemathesis.openapi.from_dict(document, config=SchemathesisConfig(seed=SEED))
    loaded.config.generation.update(max_examples=EXAMPLES)
    return loaded


schema = load_schema()


# A fuzzed user owns no memories and a fuzzed id names none: now and then the seeded user
# and ids instead, so lookups, patches, links and memory chats get past "not found".
@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("user"), str):
        return st.sampled_from([body, {**body, "user": USER}])
    return st.just(body)


@schema.hook
def flatmap_query(context: Any, query: Any) -> Any:
    if isinstance(query, dict) and isinstance(query.get("user"), str):
        return st.sampled_from([query, {**query, "user": USER}])
    return st.just(query)


@schema.hook
def flatmap_path_parameters(context: Any, path: Any) -> Any:
    if isinstance(path, dict) and isinstance(path.get("memory_id"), str):
        return st.sampled_from([path, *({**path, "memory_id": m} for m in MEMORIES)])
    return st.just(path)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for every operation, so what one call creates the next can find."""
    app, hosts = make_app(tmp_path_factory.mktemp("fuzz"))
    SENT.clear()
    yield with_lifespan(app, hosts)
    operations = len(list(schema.get_all_operations()))
    print(f"\nfuzz: {len(SENT)} cases over {operations} operations")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,  # no replay of a past run's failures: every run sends the same cases
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@schema.parametrize()
def test_api_answers_as_documented(case: Any, app: FastAPI) -> None:
    response = case.call_and_validate(app=app, headers=AUTH, checks=CHECKS)
    SENT.append(response.status_code)
