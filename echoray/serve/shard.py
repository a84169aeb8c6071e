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
import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import ray
from threadpoolctl import ThreadpoolController

from echoray.config import EchoRayConfig, MemoryConfig
from echoray.embeddings import MINILM_DIMENSION
from echoray.errors import ServiceUnavailableError, unwrap_remote
from echoray.memory.core import ChatRecall, MemoryShardCore, Merged
from echoray.memory.hashing import shard_for
from echoray.memory.records import (
    ArchivedMemory,
    Experience,
    Link,
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    Page,
    Pattern,
    SearchHit,
    Turn,
    TurnRole,
)
from echoray.memory.store import AppendResult, LanceDBStore

log = logging.getLogger(__name__)
T = TypeVar("T")
NAMESPACE = "echoray"
# How stale a shard's LanceDB reads may be. Other processes commit to the same tables (the
# other shards' experiences, compaction tasks); a store that never looked again would keep
# reading files that compaction has since removed. Far below the 60 s minimum of
# ``consolidation.keep_versions_s``.
READ_CONSISTENCY_S = 5.0


def storage_key(config: EchoRayConfig) -> str:
    """A short name for one memory layout: the storage and how it is split into shards.

    Apps of one Ray cluster with the same key share shard actors (and their data); apps
    with different storage get their own, instead of silently using another app's.
    """
    layout = f"{config.storage.uri}|{config.memory.num_shards}"
    return hashlib.sha256(layout.encode()).hexdigest()[:10]


def shard_name(config: EchoRayConfig, index: int) -> str:
    return f"echoray-memory-{storage_key(config)}-{index}"


class MemoryShard:
    """One shard in a Ray actor; every method forwards to ``MemoryShardCore``."""

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

    async def ping(self) -> int:
        return self.core.shard_index

    async def add(self, records: list[MemoryRecord]) -> AppendResult:
        return await self.core.add(records)

    async def search(
        self, tenant: str, flt: MemoryFilter, vector: Any, text: str | None, limit: int
    ) -> list[SearchHit]:
        return self.core.search(tenant, flt, vector, text, limit)

    async def get(self, tenant: str, user: str, memory_id: str) -> MemoryRecord:
        return self.core.get(tenant, user, memory_id)

    async def list_page(self, tenant: str, user: str, limit: int, cursor: str | None) -> Page:
        return self.core.list_page(tenant, user, limit, cursor)

    async def update(
        self, tenant: str, user: str, memory_id: str, patch: MemoryPatch
    ) -> MemoryRecord:
        return self.core.update(tenant, user, memory_id, patch)

    async def delete(self, tenant: str, user: str, memory_id: str) -> None:
        self.core.delete(tenant, user, memory_id)

    async def delete_user(self, tenant: str, user: str) -> int:
        return self.core.delete_user(tenant, user)

    async def links(self, tenant: str, user: str, memory_id: str) -> list[Link]:
        return self.core.links(tenant, user, memory_id)

    async def add_turns(self, turns: list[Turn]) -> None:
        self.core.add_turns(turns)

    async def recent_turns(self, tenant: str, user: str, session: str, n: int | None) -> list[Turn]:
        return self.core.recent_turns(tenant, user, session, n)

    async def count(self, tenant: str, user: str) -> int:
        return self.core.store.count(tenant, user)

    async def recall_for_chat(
        self,
        tenant: str,
        user: str,
        session: str | None,
        vector: Any,
        text: str,
        limit: int,
        turns: int,
    ) -> ChatRecall:
        return self.core.recall_for_chat(tenant, user, session, vector, text, limit, turns)

    async def capture(
        self,
        experience: Experience,
        memory: MemoryRecord | None,
        turns: list[tuple[TurnRole, str]],
        used: list[str],
    ) -> None:
        await self.core.capture(experience, memory, turns, used)

    async def find_experience(self, tenant: str, experience_id: str) -> Experience:
        return self.core.find_experience(tenant, experience_id)

    async def apply_feedback(
        self,
        tenant: str,
        user: str,
        experience_id: str,
        score: float,
        comment: str | None,
        step: float,
        at: datetime,
    ) -> tuple[Experience, int]:
        return self.core.apply_feedback(tenant, user, experience_id, score, comment, step, at)

    # --- consolidation (see echoray.learning.consolidation) ----------------------------

    async def begin_consolidation(self, run_id: str, lease_s: float) -> bool:
        return self.core.begin_consolidation(run_id, lease_s)

    async def end_consolidation(self, run_id: str, completed: bool) -> None:
        self.core.end_consolidation(run_id, completed)

    async def consolidation_pressure(self) -> int:
        return self.core.consolidation_pressure()

    async def merge_memories(
        self,
        tenant: str,
        user: str,
        merges: list[Merged],
        links: list[Link],
    ) -> int:
        return await self.core.merge_memories(tenant, user, merges, links)

    async def archive_memories(
        self, tenant: str, user: str, ids: list[str], reason: str, unused_since: datetime | None
    ) -> list[str]:
        return await self.core.archive_memories(tenant, user, ids, reason, unused_since)

    async def restore_memories(
        self, tenant: str, user: str, ids: list[str], at: datetime
    ) -> list[MemoryRecord]:
        return await self.core.restore_memories(tenant, user, ids, at)

    async def list_archive(self, tenant: str, user: str, limit: int) -> list[ArchivedMemory]:
        return self.core.list_archive(tenant, user, limit)

    async def link_memories(self, links: list[Link]) -> int:
        return await self.core.link_memories(links)

    async def set_patterns(self, tenant: str, user: str, patterns: list[Pattern]) -> None:
        await self.core.set_patterns(tenant, user, patterns)


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
    """Routes a (tenant, user) to its shard and retries calls that died with the actor."""

    def __init__(self, handles: Sequence[Any], *, attempts: int = 8, base_delay_s: float = 0.2):
        self._handles = list(handles)
        self._attempts = attempts
        self._base_delay_s = base_delay_s

    def shard(self, tenant: str, user: str) -> Any:
        return self._handles[shard_for(tenant, user, len(self._handles))]

    async def call(self, tenant: str, user: str, method: str, *args: Any) -> Any:
        """``shard.method(*args)``; retried with backoff and jitter while the actor restarts.

        Raises:
            ServiceUnavailableError: the shard stayed unreachable through every attempt.
            EchoRayError: whatever the shard raised on purpose (not retried).
        """
        return await self.call_shard(shard_for(tenant, user, len(self._handles)), method, *args)

    async def call_shard(self, index: int, method: str, *args: Any) -> Any:
        """``call`` on shard ``index`` itself (shard-wide calls: consolidation leases)."""
        handle = self._handles[index]
        return await retry_transient(
            lambda: getattr(handle, method).remote(*args), self._attempts, self._base_delay_s
        )


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
