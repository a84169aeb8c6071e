"""What consolidation applies through a shard (memory layer, plain Python).

A Consolidator task plans each step from the rows it read; the shard that owns the user
applies it here, so its RAM working set and link graph follow every change. These writes
finish even when their call is cancelled (Ray cancels the calls of a caller that died),
so RAM never misses what LanceDB committed. ``MemoryShardCore`` inherits them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from echoray.config import MemoryConfig
from echoray.memory.graph import LinkGraph
from echoray.memory.records import (
    ArchivedMemory,
    Link,
    MemoryRecord,
    Merged,
    Pattern,
    Turn,
)
from echoray.memory.store import LanceDBStore
from echoray.memory.working_set import WorkingSet

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


def finishes_even_if_cancelled(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """A shard write that runs to the end even if its call is cancelled (Ray cancels the
    calls of a caller that died, e.g. a killed consolidation task), so RAM always follows
    what LanceDB committed; the caller still sees the cancellation."""

    @functools.wraps(method)
    async def finish(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.shield(asyncio.ensure_future(method(*args, **kwargs)))

    return finish


class ShardUpkeep:
    """The consolidation side of ``MemoryShardCore``: its lease and the writes a run
    applies (merge, archive, restore, links, patterns)."""

    store: LanceDBStore
    config: MemoryConfig
    graph: LinkGraph
    working_set: WorkingSet | None
    _patterns: dict[tuple[str, str], list[Pattern]]
    _lease: tuple[str, float] | None  # (run id, monotonic expiry)
    _turns_since_run: int

    def begin_consolidation(self, run_id: str, lease_s: float) -> bool:
        """Take (or renew) this shard's consolidation lease; False while another run holds
        it. A task renews it as it goes, so a killed task's lease runs out by itself."""
        now = time.monotonic()
        if self._lease is not None and self._lease[0] != run_id and self._lease[1] > now:
            return False
        self._lease = (run_id, now + lease_s)
        return True

    def end_consolidation(self, run_id: str, completed: bool) -> None:
        """Give the lease back; a completed run resets the count of new turns."""
        if self._lease is not None and self._lease[0] == run_id:
            self._lease = None
        if completed:
            self._turns_since_run = 0

    def consolidation_pressure(self) -> int:
        """Session turns written since the last completed run."""
        return self._turns_since_run

    @finishes_even_if_cancelled
    async def merge_memories(
        self,
        tenant: str,
        user: str,
        merges: list[Merged],
        links: list[Link],
    ) -> int:
        """Store each combined survivor, move the merged ones' links to it, then archive
        the merged ones (a group whose survivor is gone is left alone). Returns how many
        memories were archived."""
        wanted = [survivor.id for survivor, _ in merges]
        alive = {r.id for r in await asyncio.to_thread(self.store.get_many, tenant, user, wanted)}
        merges = [(s, merged) for s, merged in merges if s.id in alive]
        if not merges:
            return 0
        survivors = [s for s, _ in merges]
        await asyncio.to_thread(self.store.replace, survivors)
        links = [k for k in links if k.src in alive or k.dst in alive]
        step = self.config.max_batch
        for start in range(0, len(links), step):
            await asyncio.to_thread(self.store.add_links, links[start : start + step])
        reasons = {i: f"merged into {s.id}" for s, merged in merges for i in merged}
        moved = await asyncio.to_thread(self.store.archive, tenant, user, list(reasons), reasons)
        if self.working_set is not None:
            self.working_set.upsert(survivors)
            self.working_set.remove(tenant, user, moved)
        self.graph.remove(tenant, user, moved)
        self.graph.add(links)
        return len(moved)

    @finishes_even_if_cancelled
    async def archive_memories(
        self,
        tenant: str,
        user: str,
        ids: list[str],
        reason: str,
        unused_since: datetime | None = None,
    ) -> list[str]:
        """Move memories to the archive (never deleted); with ``unused_since``, those used
        after it (recalled while the run planned) are kept. Returns the ids moved."""
        if unused_since is not None:
            current = await asyncio.to_thread(self.store.get_many, tenant, user, ids)
            ids = [r.id for r in current if (r.last_accessed or r.created_at) <= unused_since]
        moved = await asyncio.to_thread(self.store.archive, tenant, user, ids, reason)
        if self.working_set is not None:
            self.working_set.remove(tenant, user, moved)
        self.graph.remove(tenant, user, moved)
        return moved

    @finishes_even_if_cancelled
    async def restore_memories(
        self, tenant: str, user: str, ids: list[str], at: datetime
    ) -> list[MemoryRecord]:
        """Bring archived memories back, counted as used at ``at``, with their links."""
        restored = await asyncio.to_thread(self.store.restore, tenant, user, ids, used_at=at)
        if restored:
            if self.working_set is not None:
                self.working_set.upsert(restored)
            links = await asyncio.to_thread(
                self.store.list_links, tenant, user, [r.id for r in restored]
            )
            self.graph.add(links)
        return restored

    def list_archive(self, tenant: str, user: str, limit: int) -> list[ArchivedMemory]:
        return self.store.archive_entries(tenant, user, limit)

    @finishes_even_if_cancelled
    async def link_memories(self, tenant: str, user: str, links: list[Link]) -> int:
        """Store links (skipping stored ones) and add them to the graph."""
        check_owner(tenant, user, links)
        added = 0
        for start in range(0, len(links), self.config.max_batch):
            added += await asyncio.to_thread(
                self.store.add_links, links[start : start + self.config.max_batch]
            )
        self.graph.add(links)
        return added

    @finishes_even_if_cancelled
    async def set_patterns(self, tenant: str, user: str, patterns: list[Pattern]) -> None:
        """Make ``patterns`` the user's learned patterns (the pipeline's pattern match)."""
        await asyncio.to_thread(self.store.replace_patterns, tenant, user, patterns)
        self._patterns[(tenant, user)] = list(patterns)


def check_owner(tenant: str, user: str, items: Sequence[MemoryRecord | Turn | Link]) -> None:
    """A shard call acts for one user: everything it writes must be theirs."""
    for item in items:
        if (item.tenant, item.user) != (tenant, user):
            raise ValueError(f"a write for {tenant}/{user} holds one of {item.tenant}/{item.user}")
