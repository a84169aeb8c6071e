"""The HTTP app in process with the real model, driven by the official openai client."""

import pytest

from echoray.api.local import make_local_app
from echoray.config import config_from_args
from echoray.engines.host import EngineHost
from echoray.engines.torch_engine import TorchEngine
from tests.helpers import asgi_clients

pytestmark = pytest.mark.model
MODEL = "smollm2-135m-instruct"


async def test_chat_stream_completion_and_models(torch_engine: TorchEngine) -> None:
    config = config_from_args({})
    host = EngineHost(torch_engine)
    await host.wait_ready()
    http, client = asgi_clients(make_local_app(config, {MODEL: host}))
    async with http:
        reply = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            temperature=0,
            max_tokens=30,
        )
        assert "Paris" in reply.choices[0].message.content
        assert reply.usage.completion_tokens <= 30

        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Count to five."}],
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        deltas, usage = [], None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                deltas.append(chunk.choices[0].delta.content)
            if chunk.usage:
                usage = chunk.usage
        assert len(deltas) >= 3
        assert usage is not None and usage.completion_tokens == 12

        completion = await client.completions.create(
            model=MODEL, prompt="The sky is", max_tokens=8, temperature=0
        )
        assert completion.choices[0].text.strip()
        assert completion.usage.completion_tokens <= 8

        models = await client.models.list()
        assert models.data[0].id == MODEL


async def test_the_ollama_client_gets_the_same_greedy_answer(torch_engine: TorchEngine) -> None:
    import httpx
    import ollama

    config = config_from_args({})
    host = EngineHost(torch_engine)
    await host.wait_ready()
    app = make_local_app(config, {MODEL: host})
    http, client = asgi_clients(app)
    api = ollama.AsyncClient(host="http://echoray.test", transport=httpx.ASGITransport(app=app))
    question = [{"role": "user", "content": "Name a primary colour."}]
    async with http:
        reference = await client.chat.completions.create(
            model=MODEL, messages=question, temperature=0, max_tokens=16
        )
        reply = await api.chat(
            model=MODEL, messages=question, options={"temperature": 0, "num_predict": 16}
        )
        assert reply.message.content == reference.choices[0].message.content
        assert reply.eval_count == reference.usage.completion_tokens
        assert reply.prompt_eval_count == reference.usage.prompt_tokens
        shown = await api.show(MODEL)
        assert shown.modelinfo["general.architecture"] == "llama"
        assert shown.details.parameter_size.endswith("M")
