"""The HTTP app in process (fake engine) through the official openai client and httpx."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import jsonschema
import openai
import pytest

from echoray.api.local import make_local_app
from echoray.services.local import make_local_hosts
from tests.helpers import asgi_clients, fake_config

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def clients() -> AsyncIterator[tuple[httpx.AsyncClient, openai.AsyncOpenAI]]:
    config = fake_config()
    hosts = make_local_hosts(config)
    for host in hosts.values():
        await host.wait_ready()
    http, client = asgi_clients(make_local_app(config, hosts))
    async with http:
        yield http, client


async def test_chat_completion(clients) -> None:
    _, client = clients
    reply = await client.chat.completions.create(model="fake", messages=MESSAGES)
    assert reply.choices[0].message.content == "You said: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens == 4
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 4


async def test_streaming_chat_sends_role_deltas_finish_usage_and_done(clients) -> None:
    http, client = clients
    stream = await client.chat.completions.create(
        model="fake", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: hello there"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    raw = await http.post(
        "/v1/chat/completions", json={"model": "fake", "messages": MESSAGES, "stream": True}
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.rstrip().endswith("data: [DONE]")
    assert '"usage"' not in raw.text  # only with stream_options.include_usage


async def test_completion_and_models(clients) -> None:
    _, client = clients
    completion = await client.completions.create(model="fake", prompt="abc def", max_tokens=3)
    assert completion.choices[0].text == "You said: abc"
    assert completion.choices[0].finish_reason == "length"
    models = await client.models.list()
    assert [m.id for m in models.data] == ["fake"]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (json.dumps({"model": "nope", "messages": MESSAGES}).encode(), 404, "model"),
        (json.dumps({"model": "fake", "messages": []}).encode(), 422, "messages"),
        (
            json.dumps(
                {"model": "fake", "messages": [{"role": "wizard", "content": "x"}]}
            ).encode(),
            422,
            "messages.0.role",
        ),
        (
            json.dumps({"model": "fake", "messages": MESSAGES, "max_tokens": 0}).encode(),
            422,
            "max_tokens",
        ),
        (
            json.dumps({"model": "fake", "messages": MESSAGES, "max_tokens": 10**6}).encode(),
            422,
            "max_tokens",
        ),
        (json.dumps({"model": "fake", "messages": MESSAGES, "n": 2}).encode(), 422, "n"),
        (
            json.dumps({"model": "fake", "messages": MESSAGES, "temperature": 5}).encode(),
            422,
            "temperature",
        ),
        (json.dumps({"messages": MESSAGES}).encode(), 422, "model"),
    ],
)
async def test_bad_requests_get_openai_error_json(
    clients, body: bytes, status: int, param: str | None
) -> None:
    http, _ = clients
    response = await http.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["param"] == param


async def test_openai_client_raises_typed_errors(clients) -> None:
    _, client = clients
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="nope", messages=MESSAGES)
    with pytest.raises(openai.UnprocessableEntityError):
        await client.chat.completions.create(model="fake", messages=[])


async def test_oversized_body_is_413_with_and_without_content_length(clients) -> None:
    http, _ = clients
    big = json.dumps(
        {"model": "fake", "messages": [{"role": "user", "content": "x" * 2_000_000}]}
    ).encode()
    response = await http.post(
        "/v1/chat/completions", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    response = await http.post(
        "/v1/chat/completions", content=chunked(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_request_id_is_honoured_or_generated(clients) -> None:
    http, _ = clients
    mine = await http.get("/healthz", headers={"x-request-id": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    made = await http.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert (
        made.headers["x-request-id"] != "bad id with spaces"
        and len(made.headers["x-request-id"]) == 32
    )
    reply = await http.post(
        "/v1/chat/completions",
        json={"model": "fake", "messages": MESSAGES},
        headers={"x-request-id": "r-7"},
    )
    # The header traces the request; the completion id is the server's own (never "r-7").
    assert reply.headers["x-request-id"] == "r-7"
    assert reply.json()["id"].startswith("chatcmpl-") and "r-7" not in reply.json()["id"]


async def test_metrics_count_requests_tokens_and_latency(clients) -> None:
    http, client = clients
    await client.chat.completions.create(model="fake", messages=MESSAGES)
    await http.post(
        "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
    )
    text = (await http.get("/metrics")).text
    assert (
        'echoray_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1.0'
        in text
    )
    assert (
        'echoray_requests_total{method="POST",route="/v1/chat/completions",status="400"} 1.0'
        in text
    )
    assert 'echoray_tokens_total{direction="out",model="fake"} 4.0' in text
    assert "echoray_time_to_first_token_seconds_count" in text
    assert "echoray_time_per_output_token_seconds_count" in text
    assert "echoray_request_latency_seconds_bucket" in text


async def test_metrics_show_requests_in_flight_and_what_each_engine_holds() -> None:
    config = fake_config(
        models=[{"name": "slow", "engine": {"kind": "fake", "token_delay_s": 0.2}}]
    )
    hosts = make_local_hosts(config)
    for host in hosts.values():
        await host.wait_ready()
    http, _ = asgi_clients(make_local_app(config, hosts))
    async with http:
        body = {"model": "slow", "messages": MESSAGES}
        chat = asyncio.create_task(http.post("/v1/chat/completions", json=body))
        await asyncio.sleep(0.3)  # four words, 0.2 s each: the chat is still generating
        during = (await http.get("/metrics")).text
        assert (await chat).status_code == 200
        after = (await http.get("/metrics")).text
    # The chat and the scrape itself; then only the scrape.
    assert "echoray_requests_in_flight 2.0" in during
    assert 'echoray_engine_requests{model="slow",state="decoding"} 1.0' in during
    assert "echoray_requests_in_flight 1.0" in after
    assert 'echoray_engine_requests{model="slow",state="decoding"} 0.0' in after


async def test_a_generation_past_its_timeout_is_stopped_and_says_so() -> None:
    config = fake_config(
        models=[{"name": "slow", "engine": {"kind": "fake", "token_delay_s": 0.1}}],
        limits={"generation_timeout_s": 0.35},
    )
    hosts = make_local_hosts(config)
    for host in hosts.values():
        await host.wait_ready()
    http, _ = asgi_clients(make_local_app(config, hosts))
    long = [{"role": "user", "content": "one two three four five six seven eight nine"}]
    async with http:
        plain = await http.post("/v1/chat/completions", json={"model": "slow", "messages": long})
        stream = await http.post(
            "/v1/chat/completions", json={"model": "slow", "messages": long, "stream": True}
        )
        short = await http.post("/v1/completions", json={"model": "slow", "prompt": "hi"})
    assert plain.status_code == 504
    assert plain.json()["error"]["code"] == "generation_timeout"
    events = [line[6:] for line in stream.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[-2])["error"]["code"] == "generation_timeout"
    assert events[-1] == "[DONE]" and len(events) > 3  # some text came before the cut
    assert short.status_code == 200  # a generation within the time is untouched
    assert hosts["slow"].engine.in_flight == 0  # the engine stopped: its slots are free


async def test_readyz_is_503_until_every_model_loaded() -> None:
    config = fake_config(
        models=[
            {"name": "fast", "engine": {"kind": "fake"}},
            {"name": "slow", "engine": {"kind": "fake", "load_delay_s": 0.3}},
        ]
    )
    hosts = make_local_hosts(config)
    http, client = asgi_clients(make_local_app(config, hosts))
    async with http:
        assert (await http.get("/healthz")).status_code == 200
        before = await http.get("/readyz")
        assert before.status_code == 503 and before.headers["retry-after"]
        loading = [host.start_background() for host in hosts.values()]
        with pytest.raises(openai.InternalServerError) as info:
            await client.chat.completions.create(model="slow", messages=MESSAGES)
        assert info.value.status_code == 503
        await asyncio.gather(*loading)
        after = await http.get("/readyz")
        assert after.status_code == 200
        assert after.json()["models"] == {"fast": True, "slow": True}


async def test_auth_maps_keys_to_tenants_and_rejects_others() -> None:
    config = fake_config(auth={"enabled": True, "api_keys": {"key-a": "acme"}})
    hosts = make_local_hosts(config)
    for host in hosts.values():
        await host.wait_ready()
    app = make_local_app(config, hosts)
    http, good = asgi_clients(app, api_key="key-a")
    async with http:
        assert (await good.chat.completions.create(model="fake", messages=MESSAGES)).choices
        _, wrong = asgi_clients(app, api_key="key-b")
        with pytest.raises(openai.AuthenticationError):
            await wrong.models.list()
        missing = await http.get("/v1/models")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "missing_api_key"
        malformed = await http.get("/v1/models", headers={"authorization": "Basic abc"})
        assert malformed.status_code == 401
        assert (await http.get("/healthz")).status_code == 200  # probes need no key


async def test_unknown_route_is_openai_shaped_404(clients) -> None:
    http, _ = clients
    response = await http.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


async def test_error_after_first_chunk_becomes_sse_error_event() -> None:
    config = fake_config(
        models=[{"name": "fake", "engine": {"kind": "fake", "fail_after_tokens": 2}}]
    )
    hosts = make_local_hosts(config)
    await hosts["fake"].wait_ready()
    http, _ = asgi_clients(make_local_app(config, hosts))
    async with http:
        response = await http.post(
            "/v1/chat/completions", json={"model": "fake", "messages": MESSAGES, "stream": True}
        )
    assert response.status_code == 200
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    contents = [json.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[1:3]]
    assert contents == ["You", " said:"]
    error = json.loads(events[-2].removeprefix("data: "))["error"]
    assert error["type"] == "engine_error" and "injected failure" in error["message"]
    assert events[-1] == "data: [DONE]"


async def test_an_empty_prompt_is_a_400_naming_the_prompt(clients) -> None:
    http, _ = clients
    reply = await http.post("/v1/completions", json={"model": "fake", "prompt": ""})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "prompt"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", {"model": "fake", "prompt": "\ud800"}),
        (
            "/v1/chat/completions",
            {"model": "fake", "messages": [{"role": "user", "content": "a\ud800"}]},
        ),
        (
            "/v1/chat/completions",
            {
                "model": "fake",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "\udc00"}]}],
            },
        ),
        ("/v1/embeddings", {"model": "fake", "input": ["fine", "\ud800"]}),
    ],
)
async def test_a_lone_surrogate_is_a_422_naming_where(clients, path, body) -> None:
    http, _ = clients
    reply = await http.post(
        path, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert reply.status_code == 422, reply.text
    assert "lone UTF-16 surrogate" in reply.json()["error"]["message"]


async def test_a_wrong_method_is_a_405_that_names_the_allowed_ones(clients) -> None:
    http, _ = clients
    reply = await http.get("/v1/chat/completions")
    assert reply.status_code == 405
    assert reply.headers["allow"] == "POST"
    assert reply.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "field",
    [{"max_tokens": "4"}, {"max_tokens": 4.0}, {"stream": 0}, {"seed": "1"}, {"temperature": "1"}],
)
async def test_numbers_and_flags_are_typed_strictly_as_openai_does(clients, field) -> None:
    http, _ = clients
    body = {"model": "fake", "messages": MESSAGES, **field}
    reply = await http.post("/v1/chat/completions", json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["param"] == next(iter(field))


async def test_the_openapi_document_declares_the_errors_the_server_sends(clients) -> None:
    http, _ = clients
    document = (await http.get("/openapi.json")).json()
    assert "HTTPValidationError" not in json.dumps(document)
    error_schema = document["components"]["schemas"]["ErrorResponse"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            # Ollama's API has no 422: what OpenAI's answers 422 it answers 400.
            expected = {"400", "500", "503"} | ({"422"} if path.startswith("/v1") else set())
            assert expected <= set(responses), (method, path)
            assert "Retry-After" in responses["503"]["headers"]
    chat = document["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"401", "404", "413"} <= set(chat)
    # What the server really sends for a 422 and a 404 fits the declared schema.
    bad = await http.post("/v1/chat/completions", json={"model": "fake"})
    missing = await http.post("/v1/chat/completions", json={"model": "nope", "messages": MESSAGES})
    assert (bad.status_code, missing.status_code) == (422, 404)
    for reply in (bad, missing):
        jsonschema.validate(reply.json(), error_schema)
    ollama_schema = document["components"]["schemas"]["OllamaErrorResponse"]
    ollama_bad = await http.post("/api/chat", json={"messages": []})
    assert ollama_bad.status_code == 400
    assert "422" not in document["paths"]["/api/chat"]["post"]["responses"]
    jsonschema.validate(ollama_bad.json(), ollama_schema)
