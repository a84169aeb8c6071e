"""One consolidation run over one shard's users (learning layer, plain Python).

``consolidate_shard`` reads the shard's memories, links, session turns and experiences from
LanceDB once, plans each step with the pure functions of this package, and applies every
change through the shard (``ShardBackend``), which owns the writes and keeps its RAM
working set and link graph in step. Per user, in order:

1. promote session turns to episodic memories (``promotion``);
2. merge near-duplicates (``merging``);
3. write reflections over clusters of episodic memories (``reflection``);
4. learn request patterns from the experiences (``patterns``);
5. archive what retention says is forgotten (``forgetting``).

Every step is idempotent (derived ids, the survivor's merged list, covered members), so a
run killed half-way and run again ends as one clean run would: nothing lost, nothing twice.
The shard's lease keeps two runs off one shard; the run renews it after every user.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from echoray.config import ConsolidationConfig
from echoray.errors import EchoRayError, ServiceUnavailableError
from echoray.learning.forgetting import FORGOTTEN, to_forget
from echoray.learning.merging import moved_links, plan_merges
from echoray.learning.patterns import learn_patterns, query_vectors
from echoray.learning.promotion import promoted_records, turns_to_promote
from echoray.learning.reflection import (
    Cluster,
    clusters,
    extractive_summary,
    reflection_record,
    source_links,
    summary_prompt,
)
from echoray.memory.api import Shards
from echoray.memory.hashing import shard_for
from echoray.memory.records import Experience, Link, MemoryRecord, Turn

log = logging.getLogger(__name__)

STEPS = ("promote", "merge", "reflect", "patterns", "forget")
COUNTS = ("promoted", "merged", "reflections", "patterns", "archived")
LEASE_S = 120.0
_EMBED_BATCH = 64
_WRITE_BATCH = 256  # groups or reflections written in one shard call

Embed = Callable[[list[str]], Awaitable[np.ndarray]]
Summarize = Callable[[str], Awaitable[str]]
Owner = tuple[str, str]
Owns = Callable[[str, str], bool]


class ShardBusyError(ServiceUnavailableError):
    """Another consolidation run holds the shard."""


@dataclass
class ShardReport:
    """What one run did on one shard."""

    shard: int
    users: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(("read", *STEPS), 0.0))
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "users": self.users,
            "counts": dict(self.counts),
            "ms": {k: round(v, 1) for k, v in self.ms.items()},
            "errors": list(self.errors),
        }


@dataclass
class UserData:
    """One user's rows, read once per run and kept current as the run changes them."""

    memories: list[MemoryRecord] = field(default_factory=list)
    archived: list[MemoryRecord] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    experiences: list[Experience] = field(default_factory=list)


class ShardRows(Protocol):
    """What a run reads of the store: every row of the users a shard owns (the
    ``LanceDBStore``, or anything that scans the same way)."""

    def scan(self, *, owns: Owns) -> Iterator[MemoryRecord]: ...
    def scan_archive(self, *, owns: Owns) -> Iterator[MemoryRecord]: ...
    def scan_links(self, *, owns: Owns) -> Iterator[Link]: ...
    def scan_turns(self, *, owns: Owns) -> Iterator[Turn]: ...
    def scan_experiences(self, *, owns: Owns) -> Iterator[Experience]: ...


def read_shard(store: ShardRows, owns: Owns) -> dict[Owner, UserData]:
    """Every row the run needs of the users ``owns`` accepts, grouped by user."""
    users: dict[Owner, UserData] = defaultdict(UserData)
    for record in store.scan(owns=owns):
        users[(record.tenant, record.user)].memories.append(record)
    for record in store.scan_archive(owns=owns):
        users[(record.tenant, record.user)].archived.append(record)
    for link in store.scan_links(owns=owns):
        users[(link.tenant, link.user)].links.append(link)
    for turn in store.scan_turns(owns=owns):
        users[(turn.tenant, turn.user)].turns.append(turn)
    for experience in store.scan_experiences(owns=owns):
        users[(experience.tenant, experience.user)].experiences.append(experience)
    return dict(users)


@dataclass(frozen=True)
class ShardConsolidation:
    """What every shard's run needs besides its shard: where the rows are read, how the
    shards are reached, how turns are embedded and reflections summarised. In process and
    in a Ray task alike, a run is ``ShardConsolidation(...).run(index, run_id, tenant, now)``.
    """

    store: ShardRows
    shards: Shards
    config: ConsolidationConfig
    embed: Embed | None = None
    summarize: Summarize | None = None

    async def run(self, index: int, run_id: str, tenant: str | None, now: datetime) -> ShardReport:
        return await consolidate_shard(
            self.store,
            self.shards,
            shard_index=index,
            num_shards=self.shards.num_shards,
            config=self.config,
            run_id=run_id,
            now=now,
            embed=self.embed,
            summarize=self.summarize,
            tenant=tenant,
        )


async def consolidate_shard(
    store: ShardRows,
    shards: Shards,
    *,
    shard_index: int,
    num_shards: int,
    config: ConsolidationConfig,
    run_id: str,
    now: datetime,
    embed: Embed | None = None,
    summarize: Summarize | None = None,
    tenant: str | None = None,
) -> ShardReport:
    """Consolidate the users of shard ``shard_index`` (of one tenant, or all).

    Raises:
        ShardBusyError: another run holds the shard's lease.
        ServiceUnavailableError: the shard stayed unreachable (the run can be repeated).
    """
    shard = shards.shard(shard_index)
    if not await shard.begin_consolidation(run_id, LEASE_S):
        raise ShardBusyError(f"shard {shard_index} is being consolidated by another run")
    report = ShardReport(shard=shard_index)
    completed = False
    try:

        def owns(t: str, u: str) -> bool:
            return shard_for(t, u, num_shards) == shard_index and tenant in (None, t)

        started = time.perf_counter()
        users = await asyncio.to_thread(read_shard, store, owns)
        report.ms["read"] += (time.perf_counter() - started) * 1000
        user_run = _UserRun(shards, config, now, embed, summarize, report)
        for (owner_tenant, user), data in sorted(users.items()):
            try:
                await user_run.run(owner_tenant, user, data)
            except ServiceUnavailableError:
                raise
            except EchoRayError as exc:  # one user's bad row must not stop the others
                log.warning("consolidation of %s/%s: %s", owner_tenant, user, exc)
                report.errors.append(f"{owner_tenant}/{user}: {exc.message}")
            report.users += 1
            await shard.begin_consolidation(run_id, LEASE_S)
            if config.pause_between_users_s:
                await asyncio.sleep(config.pause_between_users_s)
        completed = True
        return report
    finally:
        try:
            await shard.end_consolidation(run_id, completed)
        except Exception:  # the lease runs out by itself
            log.warning("could not release shard %d's lease", shard_index, exc_info=True)


class _UserRun:
    """The five steps for one user at a time; counts and times go to ``report``."""

    def __init__(
        self,
        shards: Shards,
        config: ConsolidationConfig,
        now: datetime,
        embed: Embed | None,
        summarize: Summarize | None,
        report: ShardReport,
    ) -> None:
        self.shards = shards
        self.config = config
        self.now = now
        self.embed = embed
        self.summarize = summarize
        self.report = report

    async def run(self, tenant: str, user: str, data: UserData) -> None:
        for step in STEPS:
            started = time.perf_counter()
            await getattr(self, step)(tenant, user, data)
            self.report.ms[step] += (time.perf_counter() - started) * 1000

    async def promote(self, tenant: str, user: str, data: UserData) -> None:
        # Archived memories count too: a forgotten turn must not come back as new.
        known = [*data.memories, *data.archived]
        turns = turns_to_promote(data.turns, known, self.config.promote_roles)
        if not turns:
            return
        if self.embed is None:
            self.report.errors.append(f"{tenant}/{user}: no embedder, turns not promoted")
            return
        for start in range(0, len(turns), _EMBED_BATCH):
            chunk = turns[start : start + _EMBED_BATCH]
            records = promoted_records(chunk, await self.embed([t.text for t in chunk]))
            result = await self.shards.for_user(tenant, user).add(records)
            data.memories += records
            self.report.counts["promoted"] += len(result.inserted)

    async def merge(self, tenant: str, user: str, data: UserData) -> None:
        merges = plan_merges(data.memories, self.config.duplicate_cosine)
        if not merges:
            return
        links = [link for merge in merges for link in moved_links(merge, data.links)]
        for start in range(0, len(merges), _WRITE_BATCH):
            chunk = merges[start : start + _WRITE_BATCH]
            ids = {m.survivor.id for m in chunk}
            await self.shards.for_user(tenant, user).merge_memories(
                [(m.survivor, m.merged) for m in chunk],
                [k for k in links if k.src in ids or k.dst in ids],
            )
        gone = {i for merge in merges for i in merge.merged}
        survivors = {merge.survivor.id: merge.survivor for merge in merges}
        data.memories = [survivors.get(m.id, m) for m in data.memories if m.id not in gone]
        data.links = [x for x in data.links if not ({x.src, x.dst} & gone)] + links
        self.report.counts["merged"] += len(gone)

    async def reflect(self, tenant: str, user: str, data: UserData) -> None:
        found = clusters(
            data.memories, self.config.reflection_cosine, self.config.reflection_min_memories
        )
        for start in range(0, len(found), _WRITE_BATCH):
            chunk = found[start : start + _WRITE_BATCH]
            records = [reflection_record(c, await self._summary(c), self.now) for c in chunk]
            links = [k for r, c in zip(records, chunk, strict=True) for k in source_links(r, c)]
            # Links first: a crash before the memories leaves links a repeat skips as
            # stored, never a reflection without its sources' links.
            shard = self.shards.for_user(tenant, user)
            await shard.link_memories(links)
            result = await shard.add(records)
            data.memories += records
            data.links += links
            self.report.counts["reflections"] += len(result.inserted)

    async def _summary(self, cluster: Cluster) -> str:
        if self.config.summarize == "model" and self.summarize is not None:
            try:
                text = (await self.summarize(summary_prompt(cluster))).strip()
                if text:
                    return text
            except Exception:  # the extractive summary is always there to fall back on
                log.warning("the summary model failed; writing an extractive one", exc_info=True)
        return extractive_summary(cluster, self.config.reflection_sentences)

    async def patterns(self, tenant: str, user: str, data: UserData) -> None:
        if not data.experiences:
            return
        recent = sorted(data.experiences, key=lambda e: e.created_at)[
            -self.config.max_experiences :
        ]
        learned = learn_patterns(
            recent,
            query_vectors(recent, data.memories),
            cosine=self.config.pattern_cosine,
            max_patterns=self.config.max_patterns,
            now=self.now,
        )
        if learned:
            await self.shards.for_user(tenant, user).set_patterns(learned)
        self.report.counts["patterns"] += len(learned)

    async def forget(self, tenant: str, user: str, data: UserData) -> None:
        ids = to_forget(data.memories, self.now, self.config)
        moved: list[str] = []
        for chunk in _chunks(ids, 256):
            moved += await self.shards.for_user(tenant, user).archive_memories(
                chunk, FORGOTTEN, self.now
            )
        gone = set(moved)
        data.memories = [m for m in data.memories if m.id not in gone]
        self.report.counts["archived"] += len(moved)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
