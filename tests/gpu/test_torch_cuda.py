"""The torch engine on CUDA (bfloat16). Needs an NVIDIA GPU; `make test-gpu` runs it.
`make test` deselects the `gpu` marker, and without CUDA these tests skip themselves."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture(scope="module")
def cuda_engine(model_cache_dir: Path):
    from echoray.config import ModelSpec, TorchEngineConfig
    from echoray.engines.torch_engine import TorchEngine

    spec = ModelSpec(device="cuda", engine=TorchEngineConfig(max_num_seqs=16))
    engine = TorchEngine(spec, cache_dir=model_cache_dir)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.shutdown())


async def _text(engine, prompt: str, **sampling) -> tuple[str, int]:
    from echoray.engines.base import GenerationRequest, SamplingParams

    params = SamplingParams(**{"max_tokens": 48, "temperature": 0.0, **sampling})
    request = GenerationRequest("gpu", params, messages=({"role": "user", "content": prompt},))
    chunks = [c async for c in engine.generate(request)]
    return "".join(c.text for c in chunks), chunks[-1].completion_tokens


async def test_cuda_bf16_answers_and_batches(cuda_engine) -> None:
    assert cuda_engine.info()["dtype"] == "bfloat16"
    text, _ = await _text(cuda_engine, "What is the capital of France?")
    assert "Paris" in text
    prompts = [f"Tell me fact number {i} about the sea." for i in range(16)]
    started = time.perf_counter()
    results = await asyncio.gather(*(_text(cuda_engine, p, max_tokens=64) for p in prompts))
    elapsed = time.perf_counter() - started
    tokens = sum(n for _, n in results)
    print(f"\nGPU aggregate: {tokens / elapsed:.1f} tokens/s over 16 streams")
    assert all(n > 0 for _, n in results)


async def test_cuda_seed_reproducible(cuda_engine) -> None:
    first = await _text(cuda_engine, "Write a poem.", temperature=1.0, seed=3)
    assert await _text(cuda_engine, "Write a poem.", temperature=1.0, seed=3) == first
