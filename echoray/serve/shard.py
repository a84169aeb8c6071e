"""``MemoryShard``: the Ray actor around ``MemoryShardCore`` (memory layer, Ray plumbing).

Each (tenant, user) hashes to one of ``memory.num_shards`` named actors
(``echoray-memory-<key>-<i>``, where ``key`` hashes ``storage.uri`` and the shard count, so
two apps with different storage in one Ray cluster never share shards). They are detached
with ``max_restarts=-1``: a crashed shard is restarted by Ray and rebuilds its RAM state
from LanceDB, and it outlives the replica that created it. Callers (``ShardClient``)
retry a call that died with the actor, with exponential backoff and jitter; writes are
idempotent on their ids, so a retry after a crash never duplicates, and nothing
acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ray
from threadpoolctl import ThreadpoolController

from echoray.config import EchoRayConfig, MemoryConfig
from echoray.embeddings import MINILM_DIMENSION
from echoray.errors import ServiceUnavailableError, unwrap_remote
from echoray.memory.api import Send, ShardAPI, ShardControl, bind_control, bind_user, invoke
from echoray.memory.core import MemoryShardCore
from echoray.memory.hashing import shard_for
from echoray.memory.store import LanceDBStore
from echoray.serve.names import NAMESPACE, shard_name

log = logging.getLogger(__name__)
T = TypeVar("T")
# How stale a shard's LanceDB reads may be. Other processes commit to the same tables (the
# other shards' experiences, compaction tasks); a store that never looked again would keep
# reading files that compaction has since removed. Far below the 60 s minimum of
# ``consolidation.keep_versions_s``.
READ_CONSISTENCY_S = 5.0


class MemoryShard:
    """One shard in a Ray actor: ``call`` runs a ``MemoryShardCore`` method of the shard
    API (``echoray.memory.api``) on the actor's event loop, so RAM state only changes on
    one thread, as in process."""

    def __init__(
        self, storage_uri: str, config: dict[str, Any], index: int, num_shards: int, dimension: int
    ) -> None:
        # One BLAS thread (Ray's OMP_NUM_THREADS for an actor of under one CPU, made
        # explicit): this actor's matrix products are small, and idle OpenBLAS threads
        # spin against the embedder's and the model's threads on the same cores.
        ThreadpoolController().limit(limits=1, user_api="blas")
        settings = MemoryConfig.model_validate(config)
        store = LanceDBStore(
            storage_uri, dimension, limits=settings, read_consistency_interval_s=READ_CONSISTENCY_S
        )
        self.core = MemoryShardCore(store, settings, index, num_shards)

    async def call(self, method: str, *args: Any) -> Any:
        return await invoke(self.core, method, args)


def start_shards(
    config: EchoRayConfig, *, num_cpus: float = 0.1, namespace: str = NAMESPACE
) -> list[Any]:
    """Get or create the shard actors (idempotent: every gateway replica may call it)."""
    actor = ray.remote(MemoryShard)
    handles = []
    for index in range(config.memory.num_shards):
        handles.append(
            actor.options(  # type: ignore[attr-defined]
                name=shard_name(config, index),
                namespace=namespace,
                lifetime="detached",
                get_if_exists=True,
                max_restarts=-1,
                max_concurrency=64,
                num_cpus=num_cpus,
                resources=dict(config.memory.ray_resources),
                # Shards spread over the nodes that may hold them, so losing one node
                # takes its share of users offline for a restart, not everyone.
                scheduling_strategy="SPREAD",
            ).remote(
                config.storage.uri,
                config.memory.model_dump(mode="json"),
                index,
                config.memory.num_shards,
                MINILM_DIMENSION,
            )
        )
    return handles


class ShardClient:
    """``Shards`` over the actors: routes a (tenant, user) to its shard and retries calls
    that died with the actor."""

    def __init__(self, handles: Sequence[Any], *, attempts: int = 8, base_delay_s: float = 0.2):
        self._handles = list(handles)
        self._attempts = attempts
        self._base_delay_s = base_delay_s

    @property
    def num_shards(self) -> int:
        return len(self._handles)

    def for_user(self, tenant: str, user: str) -> ShardAPI:
        """The user's shard. Its calls are retried with backoff and jitter while the actor
        restarts.

        Its calls raise:
            ServiceUnavailableError: the shard stayed unreachable through every attempt.
            EchoRayError: whatever the shard raised on purpose (not retried).
        """
        return bind_user(self._sender(shard_for(tenant, user, self.num_shards)), tenant, user)

    def actor(self, tenant: str, user: str) -> Any:
        """The actor handle of the user's shard (to kill it in a test, say)."""
        return self._handles[shard_for(tenant, user, self.num_shards)]

    def shard(self, index: int) -> ShardControl:
        """Shard ``index`` itself (shard-wide calls: consolidation leases, lookups)."""
        return bind_control(self._sender(index))

    def _sender(self, index: int) -> Send:
        handle = self._handles[index]

        async def send(method: str, args: tuple[Any, ...]) -> Any:
            return await retry_transient(
                lambda: handle.call.remote(method, *args), self._attempts, self._base_delay_s
            )

        return send


async def retry_transient(call: Callable[[], Any], attempts: int, base_delay_s: float) -> Any:
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    for attempt in range(attempts):
        try:
            return await call()
        except (ActorDiedError, ActorUnavailableError, RayActorError) as exc:
            if attempt == attempts - 1:
                raise ServiceUnavailableError(
                    "memory is temporarily unavailable; retry shortly", retry_after=2
                ) from exc
            delay = base_delay_s * (2**attempt) * (0.5 + random.random())  # backoff, jitter
            log.warning("memory shard unavailable (%r); retrying in %.2f s", exc, delay)
            await asyncio.sleep(delay)
        except Exception as exc:
            raise unwrap_remote(exc) from None
    raise AssertionError("unreachable")
