"""The memory API's logic over the shards and the embedder (plain Python, no Ray).

``Shards.for_user(tenant, user)`` reaches the one shard that owns the (tenant, user):
``ShardClient`` over Ray actors in the cluster, ``LocalShards`` over in-process
``MemoryShardCore``s in tests and notebooks. The tenant always comes from the caller's API
key; every call is scoped by tenant and user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from echoray.config import MemoryConfig
from echoray.embeddings import EmbeddingClient
from echoray.errors import NotFoundError
from echoray.memory.api import Shards
from echoray.memory.limits import check_batch, check_limit
from echoray.memory.query import embedding_text
from echoray.memory.records import (
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    new_memory_id,
    utc_now,
)
from echoray.memory.speaker_names import SpeakerNames
from echoray.protocol.memory import (
    ArchivedMemoryOut,
    ArchiveList,
    DeletedResponse,
    LinkOut,
    LinksResponse,
    MemoryBatchRequest,
    MemoryBatchResponse,
    MemoryCreateRequest,
    MemoryIn,
    MemoryList,
    MemoryOut,
    MemoryPatchRequest,
    MemorySearchRequest,
    MemorySearchResponse,
    SearchResult,
)
from echoray.services.metrics import GatewayMetrics

log = logging.getLogger(__name__)


class MemoryService:
    """Store, search, list, change and forget memories for one tenant's users."""

    def __init__(
        self,
        shards: Shards,
        embeddings: EmbeddingClient,
        config: MemoryConfig,
        metrics: GatewayMetrics | None = None,
    ):
        self._shards = shards
        self._embeddings = embeddings
        self._config = config
        self._speakers = SpeakerNames(shards)
        self._metrics = metrics

    async def observe_shards(self, timeout_s: float) -> None:
        """Refresh the shard gauges (``/metrics`` calls this on each scrape): every shard's
        ``stats()`` at once, each given at most ``timeout_s``."""
        metrics = self._metrics
        if metrics is None:
            return

        async def observe(index: int) -> None:
            try:
                stats = await asyncio.wait_for(self._shards.shard(index).stats(), timeout_s)
            except Exception:
                log.debug("no stats from memory shard %d", index, exc_info=True)
                stats = None
            metrics.observe_shard(index, stats)

        await asyncio.gather(*(observe(i) for i in range(self._shards.num_shards)))

    async def create(self, tenant: str, request: MemoryCreateRequest) -> MemoryOut:
        fields = request.model_dump(exclude={"user"})
        record = (await self._records(tenant, request.user, [MemoryIn(**fields)]))[0]
        shard = self._shards.for_user(tenant, request.user)
        result = await shard.add([record])
        self._count_ingest(len(result.inserted), len(result.existing))
        return _out(await shard.get(record.id))

    async def create_batch(self, tenant: str, request: MemoryBatchRequest) -> MemoryBatchResponse:
        records = await self._records(tenant, request.user, request.memories)
        result = await self._shards.for_user(tenant, request.user).add(records)
        self._count_ingest(len(result.inserted), len(result.existing))
        return MemoryBatchResponse(
            ids=[r.id for r in records],
            inserted=len(result.inserted),
            existing=len(result.existing),
        )

    def _count_ingest(self, inserted: int, existing: int) -> None:
        if self._metrics is not None:
            self._metrics.observe_ingest(inserted, existing)

    async def search(self, tenant: str, request: MemorySearchRequest) -> MemorySearchResponse:
        check_limit(request.limit, self._config)
        filters = request.filters
        flt = MemoryFilter.build(
            user=request.user,
            session=filters.session,
            kinds=filters.kinds,
            created_after=filters.created_after,
            created_before=filters.created_before,
            metadata=filters.metadata,
        )
        # The query is embedded with the user's speakers' names replaced by "they"
        # (``echoray.memory.query``); the shard reads the names itself.
        speakers = await self._speakers.of(tenant, request.user)
        vectors, _ = await self._embeddings.embed([embedding_text(request.query, speakers)])
        shard = self._shards.for_user(tenant, request.user)
        hits = await shard.search(flt, vectors[0], request.query, request.limit)
        return MemorySearchResponse(
            results=[
                SearchResult(
                    id=h.id,
                    text=h.text,
                    score=h.score,
                    kind=h.kind,
                    created_at=h.created_at,
                    metadata=h.metadata,
                    why=h.why.model_dump(),
                )
                for h in hits
            ]
        )

    async def list_memories(
        self, tenant: str, user: str, limit: int, cursor: str | None
    ) -> MemoryList:
        check_limit(limit, self._config)
        page = await self._shards.for_user(tenant, user).list_page(limit, cursor)
        return MemoryList(data=[_out(r) for r in page.records], next_cursor=page.next_cursor)

    async def get(self, tenant: str, user: str, memory_id: str) -> MemoryOut:
        return _out(await self._shards.for_user(tenant, user).get(memory_id))

    async def update(self, tenant: str, memory_id: str, request: MemoryPatchRequest) -> MemoryOut:
        changes = request.model_dump(exclude={"user"}, exclude_none=True)
        if request.text is not None:
            vectors, _ = await self._embeddings.embed([request.text])
            changes["vector"] = vectors[0]
        patch = MemoryPatch.build(**changes)
        record = await self._shards.for_user(tenant, request.user).update(memory_id, patch)
        return _out(record)

    async def delete(self, tenant: str, user: str, memory_id: str) -> DeletedResponse:
        await self._shards.for_user(tenant, user).delete(memory_id)
        return DeletedResponse(deleted=1)

    async def delete_user(self, tenant: str, user: str) -> DeletedResponse:
        count = await self._shards.for_user(tenant, user).delete_user()
        self._speakers.forget(tenant, user)
        return DeletedResponse(deleted=int(count))

    async def links(self, tenant: str, user: str, memory_id: str) -> LinksResponse:
        links = await self._shards.for_user(tenant, user).links(memory_id)
        return LinksResponse(
            id=memory_id,
            links=[LinkOut(src=k.src, dst=k.dst, kind=k.kind, weight=k.weight) for k in links],
        )

    async def restore(self, tenant: str, memory_id: str, user: str) -> MemoryOut:
        """Bring one archived memory back (forgotten or merged); it counts as just used.

        Raises:
            NotFoundError: no archived memory with that id for this tenant and user.
        """
        shard = self._shards.for_user(tenant, user)
        restored = await shard.restore_memories([memory_id], utc_now())
        if not restored:
            raise NotFoundError(
                f"no archived memory {memory_id!r}", param="id", code="memory_not_found"
            )
        return _out(restored[0])

    async def archived(self, tenant: str, user: str, limit: int) -> ArchiveList:
        """The user's most recently archived memories."""
        check_limit(limit, self._config)
        entries = await self._shards.for_user(tenant, user).list_archive(limit)
        archived = [
            ArchivedMemoryOut(
                **_fields(e.record), archived_at=e.archived_at, archive_reason=e.reason
            )
            for e in entries
        ]
        return ArchiveList(data=archived, next_cursor=None)

    async def _records(
        self, tenant: str, user: str, memories: Sequence[MemoryIn]
    ) -> list[MemoryRecord]:
        check_batch(len(memories), self._config)  # before spending time on embeddings
        vectors, _ = await self._embeddings.embed([m.text for m in memories])
        records = [
            MemoryRecord.build(
                id=m.id or new_memory_id(),
                tenant=tenant,
                user=user,
                session=m.session,
                kind=m.kind,
                text=m.text,
                vector=vector,
                importance=m.importance,
                pinned=m.pinned,
                metadata=m.metadata,
                **({"created_at": m.created_at} if m.created_at else {}),
            )
            for m, vector in zip(memories, vectors, strict=True)
        ]
        return records  # the store checks every limit as it writes


def _out(record: MemoryRecord) -> MemoryOut:
    return MemoryOut(**_fields(record))


def _fields(record: MemoryRecord) -> dict[str, Any]:
    """What ``MemoryOut`` shows of a record: its fields of the same names (not the vector
    or the tenant)."""
    return {name: getattr(record, name) for name in MemoryOut.model_fields}
