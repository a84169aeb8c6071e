"""The in-process clients (no Ray): engines, the embedder and memory shards in this process.

For tests, notebooks and benchmarks' no-server baselines. ``local_clients`` gives
``make_services`` the same kinds of clients the Serve gateway gives it with deployment
handles and actors (``echoray.serve``); ``echoray.api.local.make_local_app`` puts the HTTP
app on top.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from echoray.cognition.processor import CognitiveProcessor, ModelLimits
from echoray.config import EchoRayConfig
from echoray.embeddings import Embedder
from echoray.engines.factory import make_engine
from echoray.engines.host import EngineHost
from echoray.learning.consolidation import ShardConsolidation, ShardReport
from echoray.learning.run_store import RunStore
from echoray.learning.scheduler import ConsolidationScheduler, SchedulerControl
from echoray.learning.summarize import summarizer_for
from echoray.memory.api import ShardAPI, ShardControl, bind_control, bind_user, invoke
from echoray.memory.core import MemoryShardCore
from echoray.memory.hashing import shard_for
from echoray.memory.records import utc_now
from echoray.services.wiring import Clients, make_processor


class LocalShards:
    """``Shards`` in process (no Ray): the same routing, the cores called directly."""

    def __init__(self, cores: Sequence[MemoryShardCore]) -> None:
        self.cores = list(cores)

    @property
    def num_shards(self) -> int:
        return len(self.cores)

    def for_user(self, tenant: str, user: str) -> ShardAPI:
        core = self.cores[shard_for(tenant, user, len(self.cores))]
        return bind_user(functools.partial(invoke, core), tenant, user)

    def shard(self, index: int) -> ShardControl:
        return bind_control(functools.partial(invoke, self.cores[index]))


class LocalEmbeddingClient:
    """Runs an embedder in this process, off the event loop."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        vectors = await asyncio.to_thread(self._embedder.embed, texts)
        return vectors, self._embedder.count_tokens(texts)

    async def info(self) -> dict[str, Any]:
        return {"kind": "embedding", "dimension": self._embedder.dimension}

    async def is_ready(self) -> bool:
        return True


def make_local_hosts(config: EchoRayConfig) -> dict[str, EngineHost]:
    """One (not yet started) ``EngineHost`` per configured model."""
    return {spec.name: EngineHost(make_engine(spec, config.cache.dir)) for spec in config.models}


def local_clients(
    config: EchoRayConfig,
    hosts: dict[str, EngineHost],
    embedder: Embedder | None = None,
    shards: Sequence[MemoryShardCore] | None = None,
) -> Clients:
    """In-process clients over engine hosts, and the embedder and memory shards when given
    (memory needs the embedder)."""
    if embedder is None or not shards:
        return Clients(models=hosts, embedder=LocalEmbeddingClient(embedder) if embedder else None)
    client = LocalEmbeddingClient(embedder)
    local = LocalShards(shards)
    return Clients(
        models=hosts,
        embedder=client,
        shards=local,
        cognition=(
            make_local_processor(config, hosts, local, client) if config.cognition.enabled else None
        ),
        consolidation=SchedulerControl(make_local_consolidation(config, shards, embedder, hosts)),
    )


def make_local_processor(
    config: EchoRayConfig,
    hosts: dict[str, EngineHost],
    shards: LocalShards,
    embeddings: LocalEmbeddingClient,
) -> CognitiveProcessor:
    """The cognitive pipeline in process, counting tokens with the hosts' own engines."""
    windows = {spec.name: spec.max_model_len for spec in config.models}

    def limits(name: str) -> ModelLimits:
        return ModelLimits(hosts[name].engine.count_tokens, windows[name])

    return make_processor(
        config, shards, embeddings, {name: functools.partial(limits, name) for name in hosts}
    )


def make_local_consolidation(
    config: EchoRayConfig,
    shards: Sequence[MemoryShardCore],
    embedder: Embedder,
    hosts: dict[str, EngineHost] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> ConsolidationScheduler:
    """Consolidation in process: each shard's run is a coroutine over the shared store
    (the Consolidator actor runs the same ``ShardConsolidation`` as Ray tasks); its
    history lives next to the memory tables, as the actor's does."""
    embeddings = LocalEmbeddingClient(embedder)
    store = shards[0].store

    async def embed(texts: list[str]) -> np.ndarray:
        vectors, _ = await embeddings.embed(texts)
        return vectors

    consolidation = ShardConsolidation(
        store,
        LocalShards(shards),
        config.consolidation,
        embed=embed,
        summarize=summarizer_for(config, hosts.__getitem__ if hosts else None),
    )

    async def dispatch(index: int, run_id: str, tenant: str | None) -> ShardReport:
        return await consolidation.run(index, run_id, tenant, clock())

    async def compact() -> int:
        return await asyncio.to_thread(store.compact, config.consolidation.keep_versions_s)

    async def pressure(index: int) -> int:
        return shards[index].consolidation_pressure()

    return ConsolidationScheduler(
        len(shards),
        config.consolidation,
        dispatch,
        compact=compact,
        pressure=pressure,
        store=RunStore(config.storage.uri, keep=config.consolidation.history),
    )


def make_local_shards(config: EchoRayConfig, dimension: int) -> list[MemoryShardCore]:
    """In-process memory shards over ``storage.uri`` (the same layout the actors use)."""
    from echoray.memory.store import LanceDBStore

    n = config.memory.num_shards
    store = LanceDBStore(config.storage.uri, dimension, limits=config.memory)
    return [MemoryShardCore(store, config.memory, index, n) for index in range(n)]
