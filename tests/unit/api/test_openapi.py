"""``/openapi.json`` says what the server really sends (each case a fuzzing finding, #16)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from echoray.api.local import make_local_app
from echoray.services.local import make_local_hosts
from tests.helpers import asgi_clients, fake_config

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    config = fake_config()
    hosts = make_local_hosts(config)
    for host in hosts.values():
        await host.wait_ready()
    client, _ = asgi_clients(make_local_app(config, hosts))
    async with client:
        yield client


async def document(http: httpx.AsyncClient) -> dict[str, Any]:
    return (await http.get("/openapi.json")).json()


def media_type(reply: httpx.Response) -> str:
    return reply.headers["content-type"].split(";")[0]


async def test_metrics_are_documented_as_prometheus_text(http) -> None:
    # Was documented as application/json, while the server sends Prometheus' text format.
    ok = (await document(http))["paths"]["/metrics"]["get"]["responses"]["200"]
    reply = await http.get("/metrics")
    assert media_type(reply) == "text/plain"
    assert list(ok["content"]) == ["text/plain"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "fake", "messages": MESSAGES, "stream": True}),
        ("/v1/completions", {"model": "fake", "prompt": "abc", "stream": True}),
    ],
)
async def test_a_streamed_completion_is_a_documented_event_stream(http, path, body) -> None:
    # Was documented as application/json only; `"stream": true` answers text/event-stream.
    ok = (await document(http))["paths"][path]["post"]["responses"]["200"]
    reply = await http.post(path, json=body)
    assert reply.status_code == 200 and media_type(reply) == "text/event-stream"
    assert {"application/json", "text/event-stream"} <= set(ok["content"])
    event = ok["content"]["text/event-stream"]["schema"]  # one event: its `data` is text
    assert event["properties"]["data"]["type"] == "string"
