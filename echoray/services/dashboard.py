"""``DashboardService``: what the operator's dashboard reads of one tenant's user
(application tier, plain Python).

Built on the services the API already has (``MemoryService``, ``RecentTraces``,
consolidation's control), so the dashboard sees exactly what the memory API and the admin
API see; the tenant is the one the admin names, never a default.
"""

from __future__ import annotations

import asyncio
from typing import Any

from echoray.errors import NotFoundError
from echoray.learning.scheduler import ConsolidationControl
from echoray.protocol.dashboard import (
    ChatTrace,
    ChatTraces,
    ConsolidationView,
    DashboardMemories,
    DashboardMemory,
    GraphNode,
    LinkGraph,
)
from echoray.protocol.memory import (
    ArchiveList,
    LinkOut,
    MemoryOut,
    MemorySearchRequest,
)
from echoray.services.memories import MemoryService
from echoray.services.recent_traces import RecentTraces

GRAPH_NODES = 40  # a graph larger than this is unreadable on one screen anyway


class DashboardService:
    """Memories, their links, recent chats, consolidation and the archive of one user."""

    def __init__(
        self,
        memories: MemoryService,
        traces: RecentTraces,
        consolidation: ConsolidationControl | None,
    ) -> None:
        self._memories = memories
        self._traces = traces
        self._consolidation = consolidation

    async def memories(
        self, tenant: str, user: str, query: str | None, limit: int, cursor: str | None
    ) -> DashboardMemories:
        """The user's memories, a page at a time; with ``query``, the best matches of a
        search (the memory API's search), each with its whole record and score."""
        if not query:
            page = await self._memories.list_memories(tenant, user, limit, cursor)
            data = [DashboardMemory(**m.model_dump()) for m in page.data]
            return DashboardMemories(data=data, next_cursor=page.next_cursor)
        request = MemorySearchRequest(user=user, query=query, limit=limit)
        hits = (await self._memories.search(tenant, request)).results
        records = await asyncio.gather(*(self._get(tenant, user, h.id) for h in hits))
        data = [
            DashboardMemory(**record.model_dump(), score=hit.score)
            for hit, record in zip(hits, records, strict=True)
            if record is not None
        ]
        return DashboardMemories(data=data, next_cursor=None)

    async def graph(self, tenant: str, user: str, memory_id: str, depth: int) -> LinkGraph:
        """The memories within ``depth`` links of ``memory_id`` (at most ``GRAPH_NODES``,
        nearest first) and every link among them.

        Raises:
            NotFoundError: the user has no memory ``memory_id``.
        """
        center = await self._memories.get(tenant, user, memory_id)
        depths = {memory_id: 0}
        links: dict[tuple[str, str, str], LinkOut] = {}
        frontier, truncated = [memory_id], False
        for level in range(1, depth + 1):
            found = await asyncio.gather(*(self._links(tenant, user, i) for i in frontier))
            frontier = []
            for link in (link for group in found for link in group):
                for end in (link.src, link.dst):
                    if end in depths:
                        continue
                    if len(depths) >= GRAPH_NODES:
                        truncated = True
                        continue
                    depths[end] = level
                    frontier.append(end)
                links[(link.src, link.dst, link.kind)] = link
        records = await asyncio.gather(
            *(self._get(tenant, user, i) for i in depths if i != memory_id)
        )
        shown = {center.id: center, **{r.id: r for r in records if r is not None}}
        nodes = [_node(record, depths[record.id]) for record in shown.values()]
        kept = [k for k in links.values() if k.src in shown and k.dst in shown]
        return LinkGraph(center=memory_id, nodes=nodes, links=kept, truncated=truncated)

    def traces(self, tenant: str, user: str, limit: int) -> ChatTraces:
        entries = self._traces.recent(tenant, user, limit)
        return ChatTraces(data=[ChatTrace(**entry) for entry in entries])

    async def archived(self, tenant: str, user: str, limit: int) -> ArchiveList:
        return await self._memories.archived(tenant, user, limit)

    async def restore(self, tenant: str, user: str, memory_id: str) -> MemoryOut:
        return await self._memories.restore(tenant, memory_id, user)

    async def consolidation(self, tenant: str) -> ConsolidationView:
        """The runs over ``tenant``, and over every tenant (``tenant`` null), newest first."""
        if self._consolidation is None:
            return ConsolidationView(
                enabled=False, next_run_at=None, running=[], history=[], totals={}
            )
        status = await self._consolidation.status()

        def ours(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [run for run in runs if run.get("tenant") in (None, tenant)]

        return ConsolidationView(
            enabled=bool(status.get("enabled")),
            next_run_at=status.get("next_run_at"),
            running=ours(status.get("running", [])),
            history=ours(status.get("history", [])),
            totals=status.get("totals", {}),
        )

    async def _get(self, tenant: str, user: str, memory_id: str) -> MemoryOut | None:
        """A memory, or None when it is gone (archived or deleted since it was linked)."""
        try:
            return await self._memories.get(tenant, user, memory_id)
        except NotFoundError:
            return None

    async def _links(self, tenant: str, user: str, memory_id: str) -> list[LinkOut]:
        try:
            return (await self._memories.links(tenant, user, memory_id)).links
        except NotFoundError:
            return []


def _node(record: MemoryOut, depth: int) -> GraphNode:
    return GraphNode(
        id=record.id,
        text=record.text,
        kind=record.kind,
        importance=record.importance,
        strength=record.strength,
        depth=depth,
    )
