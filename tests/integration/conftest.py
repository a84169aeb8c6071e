"""The real SmolLM2 model, loaded once for the integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from echoray.config import ModelSpec, TorchEngineConfig
from echoray.engines.torch_engine import TorchEngine


@pytest.fixture(scope="session")
def torch_engine(model_cache_dir: Path) -> Iterator[TorchEngine]:
    spec = ModelSpec(max_model_len=512, engine=TorchEngineConfig(max_num_seqs=4, max_queue=2))
    engine = TorchEngine(spec, cache_dir=model_cache_dir)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.shutdown())
