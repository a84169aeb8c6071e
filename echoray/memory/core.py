"""``MemoryShardCore``: one shard's memory — durable store, RAM working set, link graph,
short-term sessions and group commit — as plain Python (memory layer, no Ray).

The ``MemoryShard`` Ray actor (``echoray.serve.shard``) only wraps this, so the behaviour is tested
without a cluster. LanceDB is the truth: the working set and graph are rebuilt from it at
start (only the (tenant, user) pairs this shard owns), and a write is acknowledged only
after its group commit returned. Appends are idempotent on (tenant, user, id), so a
client that retries after a crash never duplicates a memory.

A shard whose memories outgrow ``working_set_max_rows`` stops keeping them in RAM and
serves searches from LanceDB's indexes (full-text, and IVF-HNSW-SQ from 100k rows).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial

import numpy as np

from echoray.config import MemoryConfig
from echoray.errors import NotFoundError
from echoray.memory.graph import LinkGraph
from echoray.memory.group_commit import GroupCommitter
from echoray.memory.hashing import shard_for
from echoray.memory.recall import (
    neighbour_links,
    recall,
    reciprocal_rank_fusion,
    temporal_links,
)
from echoray.memory.records import (
    AppendResult,
    ChatRecall,
    Experience,
    Link,
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    Page,
    Pattern,
    Recalled,
    SearchHit,
    Turn,
    TurnRole,
    Why,
)
from echoray.memory.short_term import ShortTermMemory
from echoray.memory.store import LanceDBStore
from echoray.memory.upkeep import ShardUpkeep, check_owner, finishes_even_if_cancelled
from echoray.memory.working_set import WorkingSet

log = logging.getLogger(__name__)

_RECENT_PER_SESSION = 16  # recent memories kept per session to make temporal links


class MemoryShardCore(ShardUpkeep):
    """Everything one shard remembers; see the module docstring.

    The methods of ``echoray.memory.api.ShardAPI`` take the tenant and the user first and
    act only on that user's memories; those of ``ShardControl`` act on the whole shard.
    """

    def __init__(
        self, store: LanceDBStore, config: MemoryConfig, shard_index: int = 0, num_shards: int = 1
    ) -> None:
        self.store = store
        self.config = config
        self.shard_index = shard_index
        self.num_shards = num_shards
        self.graph = LinkGraph()
        self.short_term = ShortTermMemory(store, max_turns=config.short_term_turns)
        self._recent: dict[tuple[str, str, str], collections.deque[MemoryRecord]] = {}
        self._committer: GroupCommitter[MemoryRecord, list[MemoryRecord]] = GroupCommitter(
            self._commit,
            window_s=config.group_commit_window_ms / 1000,
            max_batch=config.group_commit_max_batch,
        )
        self.working_set: WorkingSet | None = None
        self._patterns: dict[tuple[str, str], list[Pattern]] = {}
        self._lease: tuple[str, float] | None = None  # (run id, monotonic expiry)
        self._turns_since_run = 0
        self.rebuild()

    # --- start ---------------------------------------------------------------------------

    def owns(self, tenant: str, user: str) -> bool:
        return shard_for(tenant, user, self.num_shards) == self.shard_index

    def rebuild(self) -> None:
        """Load this shard's memories and links from LanceDB (at start and after restart)."""
        owned = sum(1 for _ in self.store.scan(owns=self.owns))  # count first: fits in RAM?
        if owned > self.config.working_set_max_rows:
            self._use_indexes(owned)
        else:
            self.working_set = WorkingSet(
                self.store.dimension,
                max_rows=self.config.working_set_max_rows,
                dtype=self.config.working_set_dtype,
                bm25=(self.config.bm25_k1, self.config.bm25_b),
            )
            self.working_set.load(self.store.scan(owns=self.owns))
        self.graph = LinkGraph()
        self.graph.add(self.store.scan_links(owns=self.owns))
        log.info(
            "shard %d rebuilt: %d memories, %d links", self.shard_index, owned, len(self.graph)
        )

    def _use_indexes(self, rows: int) -> None:
        log.warning(
            "shard %d holds %d memories, over working_set_max_rows=%d: serving from LanceDB "
            "indexes instead of RAM",
            self.shard_index,
            rows,
            self.config.working_set_max_rows,
        )
        self.working_set = None
        self.store.ensure_indexes()

    # --- writes --------------------------------------------------------------------------

    async def ping(self) -> int:
        return self.shard_index

    def stats(self) -> dict[str, int | None]:
        """This shard's size, for ``/metrics``: memories and bytes in the RAM working set
        (``memories`` None when it serves from LanceDB's indexes) and turns since its last
        consolidation. Constant time: each scrape calls it (the link graph's size is not
        counted, it takes a walk over every memory)."""
        working_set = self.working_set
        return {
            "memories": None if working_set is None else len(working_set),
            "working_set_bytes": 0 if working_set is None else working_set.nbytes,
            "pending_turns": self._turns_since_run,
        }

    @finishes_even_if_cancelled
    async def add(self, tenant: str, user: str, records: Sequence[MemoryRecord]) -> AppendResult:
        """Store ``records`` (all of them the user's) durably (group commit), then index
        and link them.

        Returns which ids were new and which already existed (a retried write). LanceDB
        reads and writes run in threads, so searches on this shard go on meanwhile; RAM
        state (working set, graph) only changes on the caller's thread. A cancelled call
        (its caller died) still finishes, so RAM never misses what LanceDB committed.
        """
        check_owner(tenant, user, records)
        inserted = {id(r) for r in await self._committer.submit(list(records)) or ()}
        # What this commit inserted from these very objects is stored as given; the rest
        # (already stored, or a same-key record of another writer in the same commit)
        # is read back, so RAM holds what LanceDB holds.
        stored = [r for r in records if id(r) in inserted]
        have = {r.key for r in stored}
        others = list(dict.fromkeys(r.id for r in records if r.key not in have))
        if others:
            stored += await asyncio.to_thread(self.store.get_many, tenant, user, others)
        fresh_ids = {r.id for r in stored} - self._indexed_ids(stored)
        fresh = [r for r in stored if r.id in fresh_ids]
        if fresh:
            links = self._index(fresh)
            # Every link touches a memory this call inserted, so none is stored yet.
            step = self.config.max_batch  # the store caps one call like a client batch
            for start in range(0, len(links), step):
                await asyncio.to_thread(
                    partial(self.store.add_links, links[start : start + step], known_new=True)
                )
        return AppendResult(
            inserted=[r.id for r in records if r.id in fresh_ids],
            existing=[r.id for r in records if r.id not in fresh_ids],
        )

    def _commit(self, records: list[MemoryRecord]) -> list[MemoryRecord]:
        return self.store.append_new(records)

    def _indexed_ids(self, records: Sequence[MemoryRecord]) -> set[str]:
        if self.working_set is None:
            return set()
        return {r.id for r in records if r.key in self.working_set}

    def _index(self, records: list[MemoryRecord]) -> list[Link]:
        """Put committed records into RAM and link them; returns the new links for the
        caller to store (links are derived data: losing them in a crash loses no memory)."""
        links: list[Link] = []
        if self.working_set is not None:
            if not self.working_set.fits(len(records)):
                self._use_indexes(len(self.working_set) + len(records))
            else:
                links += self._neighbour_links(records)
                self.working_set.upsert(records)
        links += self._temporal_links(records)
        self.graph.add(links)
        return links

    def _neighbour_links(self, records: list[MemoryRecord]) -> list[Link]:
        assert self.working_set is not None
        if self.config.link_neighbour_top_k == 0:
            return []
        links: list[Link] = []
        by_owner: dict[tuple[str, str], list[MemoryRecord]] = collections.defaultdict(list)
        for record in records:
            by_owner[(record.tenant, record.user)].append(record)
        for (tenant, user), owned in by_owner.items():
            nearest = self.working_set.nearest_many(
                tenant,
                user,
                np.stack([r.vector for r in owned]),
                self.config.link_neighbour_top_k + 1,
            )
            for record, near in zip(owned, nearest, strict=True):
                links += neighbour_links(
                    record,
                    near,
                    self.config.link_neighbour_threshold,
                    self.config.link_neighbour_top_k,
                )
        return links

    def _temporal_links(self, records: list[MemoryRecord]) -> list[Link]:
        links: list[Link] = []
        by_session: dict[tuple[str, str, str], list[MemoryRecord]] = collections.defaultdict(list)
        for record in records:
            if record.session is not None:
                by_session[(record.tenant, record.user, record.session)].append(record)
        for key, new in by_session.items():
            recent = self._recent.setdefault(key, collections.deque(maxlen=_RECENT_PER_SESSION))
            links += temporal_links(new, list(recent), self.config.link_temporal_window_s)
            recent.extend(new)
        return links

    def update(self, tenant: str, user: str, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        record = self.store.update(tenant, user, memory_id, patch)
        if self.working_set is not None:
            self.working_set.upsert([record])
        return record

    def delete(self, tenant: str, user: str, memory_id: str) -> None:
        self.store.delete(tenant, user, memory_id)
        if self.working_set is not None:
            self.working_set.remove(tenant, user, [memory_id])
        self.graph.remove(tenant, user, [memory_id])

    def delete_user(self, tenant: str, user: str) -> int:
        """Forget exactly this user: memories, links, sessions."""
        count = self.store.delete_user(tenant, user)
        if self.working_set is not None:
            self.working_set.remove_user(tenant, user)
        self.graph.remove_user(tenant, user)
        self.short_term.drop_user(tenant, user)
        self._patterns.pop((tenant, user), None)
        for key in [k for k in self._recent if k[:2] == (tenant, user)]:
            del self._recent[key]
        return count

    # --- reads ---------------------------------------------------------------------------

    def get(self, tenant: str, user: str, memory_id: str) -> MemoryRecord:
        return self.store.get(tenant, user, memory_id)

    def count(self, tenant: str, user: str) -> int:
        return self.store.count(tenant, user)

    def list_page(self, tenant: str, user: str, limit: int, cursor: str | None) -> Page:
        return self.store.list_page(tenant, user, limit, cursor)

    def links(self, tenant: str, user: str, memory_id: str) -> list[Link]:
        self.store.get(tenant, user, memory_id)  # 404 for ids this user does not have
        return self.store.list_links(tenant, user, [memory_id])

    def speakers(self, tenant: str, user: str) -> list[str]:
        """The speakers of the user's memories, most memories first. Beyond the RAM budget
        (no working set) none are known, and queries are embedded as they are."""
        if self.working_set is None:
            return []
        return self.working_set.speakers(tenant, user)

    def search(
        self,
        tenant: str,
        user: str,
        flt: MemoryFilter,
        query_vector: np.ndarray,
        query_text: str | None,
        limit: int,
    ) -> list[SearchHit]:
        """The best ``limit`` memories: dense + lexical fused by rank, plus associations."""
        if flt.user != user:
            raise ValueError(f"a search for user {user!r} with a filter of {flt.user!r}")
        if self.working_set is not None:
            return recall(
                self.working_set,
                self.graph,
                tenant=tenant,
                flt=flt,
                query_vector=query_vector,
                query_text=query_text,
                limit=limit,
                config=self.config,
            )
        return self._search_indexes(tenant, flt, query_vector, query_text, limit)

    def _search_indexes(
        self, tenant: str, flt: MemoryFilter, vector: np.ndarray, text: str | None, limit: int
    ) -> list[SearchHit]:
        depth = min(self.config.max_limit, limit * 4)
        dense = self.store.vector_search(tenant, flt, vector, depth)
        lexical = self.store.text_search(tenant, flt, text, depth) if text else []
        records = {r.id: r for r, _ in [*dense, *lexical]}
        fused = reciprocal_rank_fusion(
            [[r.id for r, _ in dense], [r.id for r, _ in lexical]],
            self.config.rrf_k,
            weights=(1.0, self.config.lexical_weight),
        )
        return [
            SearchHit(
                id=f.id,
                text=records[f.id].text,
                score=f.score,
                kind=records[f.id].kind,
                session=records[f.id].session,
                created_at=records[f.id].created_at,
                metadata=records[f.id].metadata,
                why=Why(dense_rank=f.ranks[0], lexical_rank=f.ranks[1]),
            )
            for f in fused[:limit]
        ]

    # --- the cognitive pipeline -----------------------------------------------------------

    def recall_for_chat(
        self,
        tenant: str,
        user: str,
        session: str | None,
        vector: np.ndarray,
        text: str,
        limit: int,
        turns: int,
    ) -> ChatRecall:
        """Long-term and associative recall, the session's recent turns and the user's
        learned patterns: everything a chat request reads from memory, in one call."""
        hits = self.search(tenant, user, MemoryFilter(user=user), vector, text, limit)
        records = self._records(tenant, user, [hit.id for hit in hits])
        recalled = [Recalled(records[h.id], h.score, h.why) for h in hits if h.id in records]
        recent = self.recent_turns(tenant, user, session, turns) if session and turns else []
        return ChatRecall(recalled, recent, self.patterns(tenant, user))

    def patterns(self, tenant: str, user: str) -> list[Pattern]:
        """The user's learned request patterns (read from LanceDB once, then kept)."""
        key = (tenant, user)
        if key not in self._patterns:
            self._patterns[key] = self.store.list_patterns(tenant, user)
        return self._patterns[key]

    async def capture(
        self,
        tenant: str,
        user: str,
        experience: Experience,
        memory: MemoryRecord | None,
        turns: Sequence[tuple[TurnRole, str]],
        used: Sequence[str],
    ) -> None:
        """Learn from one served exchange: store the experience, count an access of each
        memory used, extend the session's short-term memory and write the user's turn as a
        long-term memory. Retrying is safe: experiences and memories are idempotent by id."""
        if (experience.tenant, experience.user) != (tenant, user):
            raise ValueError("an experience captured for another user")
        await asyncio.to_thread(self.store.append_experiences, [experience])
        if used:
            await asyncio.to_thread(
                self.store.touch, tenant, user, list(used), experience.created_at
            )
            if self.working_set is not None:
                self.working_set.touch(tenant, user, used, experience.created_at)
        if experience.session is not None:
            for role, text in turns:
                self.short_term.append(tenant, user, experience.session, role, text)
            self._turns_since_run += len(turns)
        if memory is not None:
            await self.add(tenant, user, [memory])

    def find_experience(self, tenant: str, experience_id: str) -> Experience:
        """An experience by request id (any shard can read it: the table is shared)."""
        return self.store.get_experience(tenant, experience_id)

    def apply_feedback(
        self,
        tenant: str,
        user: str,
        experience_id: str,
        score: float,
        comment: str | None,
        step: float,
        at: datetime,
    ) -> tuple[Experience, int]:
        """Record feedback on an exchange and move the strength of the memories it used.

        Strength moves by ``step * (score - previous score)``, so sending the same feedback
        twice changes nothing and a revised one moves only by the difference.

        Returns:
            The updated experience and how many memories changed strength.

        Raises:
            NotFoundError: no such experience for this tenant and user.
        """
        experience = self.store.get_experience(tenant, experience_id)
        if experience.user != user:
            raise NotFoundError(f"no chat exchange {experience_id!r}", param="request_id")
        delta = step * (score - (experience.feedback or 0.0))
        metadata = {**experience.metadata, "feedback_at": at.isoformat()}
        if comment is not None:
            metadata["feedback_comment"] = comment
        updated = experience.model_copy(update={"feedback": score, "metadata": metadata})
        self.store.set_experience_feedback(updated)
        changed = 0
        for memory in self.store.get_many(tenant, user, experience.memory_ids):
            strength = min(1.0, max(0.0, memory.strength + delta))
            if strength != memory.strength:
                self.update(tenant, user, memory.id, MemoryPatch.build(strength=strength))
                changed += 1
        return updated, changed

    def _records(self, tenant: str, user: str, ids: list[str]) -> dict[str, MemoryRecord]:
        if self.working_set is not None:
            held = {i: self.working_set.record(tenant, user, i) for i in ids}
            found = {i: r for i, r in held.items() if r is not None}
            if len(found) == len(ids):
                return found
        return {r.id: r for r in self.store.get_many(tenant, user, ids)}

    # --- short-term ----------------------------------------------------------------------

    def add_turns(self, tenant: str, user: str, turns: Sequence[Turn]) -> None:
        check_owner(tenant, user, turns)
        for turn in turns:
            self.short_term.append(turn.tenant, turn.user, turn.session, turn.role, turn.text)
        self._turns_since_run += len(turns)

    def recent_turns(
        self, tenant: str, user: str, session: str, n: int | None = None
    ) -> list[Turn]:
        return self.short_term.recent(tenant, user, session, n)

    async def close(self) -> None:
        await self._committer.close()
