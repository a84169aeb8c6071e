"""The cognitive pipeline end to end with the real parts: SmolLM2 (its own tokenizer
counts the budget), MiniLM embeddings, LanceDB shards on disk, the official openai client.

Assertions are on what was recalled and put in the context, never on the small model's
wording."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from echoray.api.local import make_local_app
from echoray.config import config_from_args
from echoray.embeddings.minilm import MiniLMEmbedder
from echoray.engines.host import EngineHost
from echoray.engines.torch_engine import TorchEngine
from echoray.services.local import make_local_shards
from tests.helpers import asgi_clients

pytestmark = pytest.mark.model
MODEL = "smollm2-135m-instruct"
FACTS = [
    "I adopted a three-year-old beagle from the shelter, his name is Biscuit.",
    "I started taking cello lessons every Thursday evening.",
    "My sister Lena is a nurse and lives in Berlin.",
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return MiniLMEmbedder()


@pytest.fixture
async def chat(
    tmp_path: Path, torch_engine: TorchEngine, embedder: MiniLMEmbedder
) -> AsyncIterator[Any]:
    config = config_from_args(
        {
            "models": [{"name": MODEL, "max_model_len": 512}],
            "storage": {"uri": str(tmp_path / "db")},
            "memory": {"group_commit_window_ms": 1},
        }
    )
    host = EngineHost(torch_engine)
    await host.wait_ready()
    app = make_local_app(config, {MODEL: host}, embedder, make_local_shards(config, 384))
    http, client = asgi_clients(app)

    async def say(text: str, user: str = "u1", **echo: Any) -> dict[str, Any]:
        reply = await client.chat.completions.create(
            model=MODEL,
            user=user,
            messages=[{"role": "user", "content": text}],
            max_tokens=8,
            temperature=0,
            extra_body={"echo": {"trace": True, **echo}},
        )
        await app.state.chat_memory.drain()
        assert reply.choices[0].message.content is not None
        return dict(reply.model_extra["echo"])

    async with http:
        yield say


async def test_a_new_conversation_recalls_the_facts_of_an_earlier_one(
    chat: Any, torch_engine: TorchEngine
) -> None:
    for fact in FACTS:
        await chat(fact, session="conversation-1")
    echo = await chat("What is my dog called?", session="conversation-2")
    assert echo["memories"][0]["text"] == FACTS[0]
    assert FACTS[0] in echo["context"]
    assert echo["memories"][0]["why"]["dense_rank"] == 1
    assert echo["context_tokens"] == torch_engine.count_tokens(echo["context"])
    assert echo["context_tokens"] <= echo["budget_tokens"]
    assert echo["query_affect"] is not None and echo["degraded"] == []

    echo = await chat("Where does my sister live?", session="conversation-2")
    assert echo["memories"][0]["text"] == FACTS[2]


async def test_another_user_recalls_nothing_of_theirs(chat: Any) -> None:
    for fact in FACTS:
        await chat(fact)
    echo = await chat("What is my dog called?", user="u2")
    assert all(m["text"] not in FACTS for m in echo["memories"])


async def test_the_budget_is_counted_with_the_models_tokenizer(
    chat: Any, torch_engine: TorchEngine
) -> None:
    for fact in FACTS:
        await chat(fact)
    for budget in (16, 40, 200):
        question = "Tell me about my dog, my cello and my sister."
        echo = await chat(question, budget_tokens=budget, write=False)
        assert echo["context_tokens"] == torch_engine.count_tokens(echo["context"]) <= budget
    assert {m["text"] for m in echo["memories"]} == set(FACTS)  # 200 tokens hold them all
