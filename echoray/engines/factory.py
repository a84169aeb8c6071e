"""``make_engine``: model spec -> engine instance (engine layer)."""

from __future__ import annotations

from pathlib import Path

from echoray.config import ModelSpec
from echoray.engines.base import Engine
from echoray.errors import ConfigError


def make_engine(spec: ModelSpec, cache_dir: str | Path) -> Engine:
    """Build (but do not start) the engine named by ``spec.engine.kind``.

    Raises:
        ConfigError: the engine cannot run here (for example vLLM without a GPU).
    """
    kind = spec.engine.kind
    if kind == "fake":
        from echoray.engines.fake import FakeEngine

        return FakeEngine(spec)
    if kind == "torch":
        from echoray.engines.torch_engine import TorchEngine

        return TorchEngine(spec, cache_dir=Path(cache_dir))
    if kind == "vllm":
        from echoray.engines.vllm_engine import make_vllm_engine

        return make_vllm_engine(spec, Path(cache_dir))
    raise ConfigError(
        f"engine kind {kind!r} of model {spec.name!r} is not available in this build yet"
    )
