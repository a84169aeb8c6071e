"""The Engine contract, run against every engine that can run on this machine.

vLLM needs a GPU and is not in this list here; ``tests/gpu`` runs the torch engine on
CUDA where one exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from echoray.config import ModelSpec
from echoray.engines.base import Engine, GenerationChunk, GenerationRequest, SamplingParams
from echoray.engines.fake import FakeEngine
from echoray.engines.torch_engine import TorchEngine
from echoray.errors import ContextLengthExceededError

PROMPTS = [
    "Tell me about the ocean.",
    "Describe a red apple.",
    "What do cats like to eat?",
    "Give me three tips for sleeping well.",
]


@pytest.fixture(params=["fake", "torch"])
async def engine(
    request: pytest.FixtureRequest, torch_engine: TorchEngine
) -> AsyncIterator[Engine]:
    if request.param == "torch":
        yield torch_engine
        return
    fake = FakeEngine(
        ModelSpec.model_validate(
            {
                "name": "fake",
                "max_model_len": 512,
                "engine": {"kind": "fake", "token_delay_s": 0.005},
            }
        )
    )
    await fake.start()
    yield fake


def chat(text: str, **sampling: object) -> GenerationRequest:
    params = SamplingParams(**{"max_tokens": 24, "temperature": 0.0, **sampling})  # type: ignore[arg-type]
    return GenerationRequest("contract", params, messages=({"role": "user", "content": text},))


async def collect(engine: Engine, request: GenerationRequest) -> list[GenerationChunk]:
    return [chunk async for chunk in engine.generate(request)]


def text_of(chunks: list[GenerationChunk]) -> str:
    return "".join(c.text for c in chunks)


async def test_streams_incrementally_with_exact_final_usage(engine: Engine) -> None:
    chunks = await collect(engine, chat(PROMPTS[0], max_tokens=12))
    assert len([c for c in chunks if c.text]) >= 3
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].finish_reason in {"stop", "length"}
    assert chunks[-1].completion_tokens <= 12
    assert chunks[-1].prompt_tokens > 0


async def test_stop_string_ends_the_text_before_it(engine: Engine) -> None:
    full = text_of(await collect(engine, chat(PROMPTS[1])))
    stop = full.split()[2]
    cut = await collect(engine, chat(PROMPTS[1], stop=(stop,)))
    assert cut[-1].finish_reason == "stop"
    assert stop not in text_of(cut)
    assert full.startswith(text_of(cut))


async def test_same_seed_same_text_alone_or_in_a_batch(engine: Engine) -> None:
    request = chat(PROMPTS[2], temperature=0.9, seed=7)
    alone = text_of(await collect(engine, request))
    others = [collect(engine, chat(p, temperature=1.0, seed=i)) for i, p in enumerate(PROMPTS)]
    together = await asyncio.gather(collect(engine, request), *others)
    assert text_of(together[0]) == alone


async def test_concurrent_requests_each_get_their_own_greedy_text(engine: Engine) -> None:
    sequential = [text_of(await collect(engine, chat(p))) for p in PROMPTS]
    concurrent = await asyncio.gather(*(collect(engine, chat(p)) for p in PROMPTS))
    assert [text_of(c) for c in concurrent] == sequential


async def test_cancelled_request_stops_and_engine_keeps_serving(engine: Engine) -> None:
    stream = engine.generate(chat(PROMPTS[3], max_tokens=200))
    await anext(stream)
    await stream.aclose()
    assert getattr(engine, "in_flight", 0) == 0
    chunks = await asyncio.wait_for(collect(engine, chat(PROMPTS[0], max_tokens=4)), 60)
    assert chunks[-1].completion_tokens <= 4


async def test_prompt_over_the_context_length_is_refused(engine: Engine) -> None:
    with pytest.raises(ContextLengthExceededError, match="too many"):
        await collect(engine, chat("word " * 600, max_tokens=10))
