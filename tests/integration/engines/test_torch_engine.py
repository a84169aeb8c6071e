"""TorchEngine with the real SmolLM2-135M weights (converted once, cached)."""

import asyncio

import pytest

from echoray.engines.base import GenerationChunk, GenerationRequest, SamplingParams
from echoray.engines.torch_engine import TorchEngine
from echoray.errors import ContextLengthExceededError, ServiceUnavailableError

pytestmark = pytest.mark.model
QUESTION = ({"role": "user", "content": "What is the capital of France?"},)


async def run(
    engine: TorchEngine, sampling: SamplingParams, messages=QUESTION
) -> list[GenerationChunk]:
    return [c async for c in engine.generate(GenerationRequest("t", sampling, messages=messages))]


async def test_greedy_answer_streams_token_by_token(torch_engine: TorchEngine) -> None:
    chunks = await run(torch_engine, SamplingParams(temperature=0, max_tokens=40))
    text = "".join(c.text for c in chunks)
    assert "Paris" in text
    assert len([c for c in chunks if c.text]) >= 3  # streamed, not one blob
    last = chunks[-1]
    assert last.finish_reason in {"stop", "length"}
    assert last.prompt_tokens == torch_engine.count_tokens(
        torch_engine.render_prompt(GenerationRequest("t", messages=QUESTION))
    )
    assert [c.completion_tokens for c in chunks] == sorted(c.completion_tokens for c in chunks)


async def test_max_tokens_gives_length_and_exact_count(torch_engine: TorchEngine) -> None:
    chunks = await run(torch_engine, SamplingParams(temperature=0, max_tokens=5))
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].completion_tokens == 5


async def test_stop_string_cuts_the_text(torch_engine: TorchEngine) -> None:
    full = "".join(
        c.text for c in await run(torch_engine, SamplingParams(temperature=0, max_tokens=40))
    )
    stop = full.split()[3]  # a word from the middle of the greedy answer
    cut = await run(torch_engine, SamplingParams(temperature=0, max_tokens=40, stop=(stop,)))
    text = "".join(c.text for c in cut)
    assert cut[-1].finish_reason == "stop"
    assert stop not in text
    assert full.startswith(text)


async def test_same_seed_same_text_and_different_seed_differs(torch_engine: TorchEngine) -> None:
    prompt = ({"role": "user", "content": "Write a short poem about the sea."},)

    async def sample(seed: int) -> str:
        chunks = await run(
            torch_engine, SamplingParams(temperature=1.0, seed=seed, max_tokens=24), prompt
        )
        return "".join(c.text for c in chunks)

    first = await sample(1234)
    assert await sample(1234) == first
    assert await sample(99) != first


async def test_too_long_prompt_is_rejected_before_generation(torch_engine: TorchEngine) -> None:
    long = ({"role": "user", "content": "word " * 600},)
    with pytest.raises(ContextLengthExceededError, match="too many"):
        await run(torch_engine, SamplingParams(max_tokens=10), long)


async def test_cancelled_stream_frees_its_slot(torch_engine: TorchEngine) -> None:
    for _ in range(7):  # more than max_num_seqs + max_queue (6) abandoned streams
        stream = torch_engine.generate(
            GenerationRequest("c", SamplingParams(max_tokens=200), messages=QUESTION)
        )
        await anext(stream)
        await stream.aclose()
    chunks = await asyncio.wait_for(
        run(torch_engine, SamplingParams(temperature=0, max_tokens=3)), 60
    )
    assert chunks[-1].completion_tokens == 3


async def test_full_queue_is_refused_with_retry_after(torch_engine: TorchEngine) -> None:
    story = ({"role": "user", "content": "Write a very long story about the sea."},)

    async def consume() -> None:
        await run(torch_engine, SamplingParams(max_tokens=400, temperature=0), story)

    tasks = [asyncio.create_task(consume()) for _ in range(6)]  # max_num_seqs 4 + max_queue 2
    try:
        async with asyncio.timeout(30):
            while torch_engine.in_flight < 6:
                await asyncio.sleep(0.01)
        with pytest.raises(ServiceUnavailableError) as info:
            await run(torch_engine, SamplingParams(max_tokens=2))
        assert info.value.retry_after and info.value.code == "queue_full"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert torch_engine.in_flight == 0  # cancelled requests leave the engine at once
