"""Consolidation of real LanceDB shards in process: each step, idempotence, and a run
that crashes half-way then runs again ending exactly like a clean run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from echoray.config import EchoRayConfig
from echoray.learning.consolidation import ShardBusyError, consolidate_shard
from echoray.learning.forgetting import FORGOTTEN
from echoray.learning.merging import MERGED_KEY
from echoray.memory.api import ShardAPI, ShardControl, bind_user, invoke
from echoray.memory.core import MemoryShardCore
from echoray.memory.hashing import shard_for
from echoray.memory.records import Experience, MemoryFilter, MemoryRecord
from echoray.services.local import LocalShards, make_local_consolidation, make_local_shards
from tests.unit.memory.factory import EMBEDDER, EPOCH, record

NOW = EPOCH + timedelta(days=400)
DOG = [
    "my dog Rex loves the big park near home",
    "Rex my dog runs in the big park every day",
    "the big park near home is where my dog Rex plays",
]


def make_config(path: Path, **consolidation: Any) -> EchoRayConfig:
    return EchoRayConfig.model_validate(
        {
            "storage": {"uri": str(path)},
            "embeddings": {"kind": "hash"},
            "memory": {"num_shards": 2, "group_commit_window_ms": 1},
            "consolidation": {"compact": False, **consolidation},
        }
    )


def recent(text: str, days_before_now: float, **fields: Any) -> MemoryRecord:
    moment = NOW - timedelta(days=days_before_now)
    return record(text, seconds=(moment - EPOCH).total_seconds(), **fields)


async def seed(shards: list[MemoryShardCore], user: str = "alice") -> None:
    """Duplicates, a cluster, an old forgettable memory, a pinned one, turns, experiences."""
    local = LocalShards(shards)
    memories = [
        recent("I live in Lisbon with my sister", 10, id="dup-a", user=user, access_count=2),
        recent("I live in Lisbon with my sister", 9, id="dup-b", user=user, access_count=3),
        recent("I live in Lisbon with my sister", 8, id="dup-c", user=user, strength=0.5),
        *(recent(t, 5 - i, id=f"dog-{i}", user=user) for i, t in enumerate(DOG)),
        recent("the old phone number was 555 0100", 390, id="old", user=user, importance=0.0),
        recent("my blood type is O negative", 390, id="pin", user=user, pinned=True),
        recent("what is the capital of France", 3, id="q1", session="s1", sources=["req-1"]),
        recent("what is the capital city of France", 2, id="q2", session="s1", sources=["req-2"]),
    ]
    shard = local.for_user("acme", user)
    await shard.add(memories)
    for number in (1, 2):
        await shard.capture(
            Experience.build(
                id=f"req-{number}",
                tenant="acme",
                user=user,
                session="s1",
                created_at=NOW - timedelta(days=3 - number),
                query=memories[-3 + number].text,
                response="Paris",
                model="fake",
                latency_ms=1.0,
            ),
            None,
            [("user", memories[-3 + number].text), ("assistant", "Paris is the capital.")],
            [],
        )


def state(shards: list[MemoryShardCore]) -> dict[str, Any]:
    store = shards[0].store
    memories = {r.id: r for r in store.scan("acme")}
    return {
        "memories": sorted(memories),
        "archive": sorted(i for _, _, i in store.scan_archive_ids()),
        "survivor": memories["dup-a"].model_dump(include={"access_count", "strength", "sources"}),
        "patterns": sorted(p.id for p in store.list_patterns("acme", "alice")),
    }


async def test_one_run_promotes_merges_reflects_learns_and_forgets(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    shards = make_local_shards(config, EMBEDDER.dimension)
    await seed(shards)
    scheduler = make_local_consolidation(config, shards, EMBEDDER, clock=lambda: NOW)
    run = await scheduler.run(tenant="acme")
    assert run.state == "done", run.as_dict()
    counts = run.as_dict()["counts"]
    store = shards[0].store

    survivor = store.get("acme", "alice", "dup-a")  # the oldest survives
    assert survivor.access_count == 5 and survivor.strength == 1.0
    assert set(survivor.metadata[MERGED_KEY]) == {"dup-b", "dup-c"}
    archived = {r.id: r for r in store.list_archive("acme", "alice")}
    assert {"dup-b", "dup-c", "old"} <= set(archived) and "pin" not in archived
    # The two "Paris" answers promoted from the session are duplicates too.
    assert counts["merged"] == 3 and counts["archived"] >= 1

    reflections = [r for r in store.scan("acme") if r.kind == "reflection"]
    dog = next(r for r in reflections if set(r.sources) >= {"dog-0", "dog-1", "dog-2"})
    assert any(s in dog.text for s in DOG)  # extractive: sentences of its members
    linked = {(link.src, link.dst) for link in store.list_links("acme", "alice", [dog.id])}
    assert all(tuple(sorted((dog.id, s))) in linked for s in ("dog-0", "dog-1", "dog-2"))

    # The user turns were captured as memories already; the answers were not.
    promoted = [r for r in store.scan("acme") if r.metadata.get("promoted_from")]
    assert [r.text for r in promoted] == ["Paris is the capital."]
    assert counts["promoted"] == 2

    patterns = store.list_patterns("acme", "alice")
    assert patterns and patterns[0].count == 2  # both France questions in one pattern
    assert shards[0].patterns("acme", "alice") or shards[1].patterns("acme", "alice")

    # The RAM working set followed: merged and forgotten memories are no longer recalled.
    owner = next(s for s in shards if s.owns("acme", "alice"))
    vector = EMBEDDER.embed(["I live in Lisbon with my sister"])[0]
    hits = owner.search("acme", "alice", MemoryFilter(user="alice"), vector, "Lisbon sister", 5)
    assert [h.id for h in hits].count("dup-a") == 1 and "dup-b" not in [h.id for h in hits]


async def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    shards = make_local_shards(config, EMBEDDER.dimension)
    await seed(shards)
    scheduler = make_local_consolidation(config, shards, EMBEDDER, clock=lambda: NOW)
    await scheduler.run()
    first = state(shards)
    again = (await scheduler.run()).as_dict()["counts"]
    assert again["promoted"] == again["merged"] == again["reflections"] == again["archived"] == 0
    assert state(shards) == first


async def test_a_restored_memory_is_back_and_not_forgotten_again(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    shards = make_local_shards(config, EMBEDDER.dimension)
    await seed(shards)
    scheduler = make_local_consolidation(config, shards, EMBEDDER, clock=lambda: NOW)
    await scheduler.run()
    local = LocalShards(shards)
    assert shards[0].store.count_archive("acme", "alice") >= 3
    restored = await local.for_user("acme", "alice").restore_memories(["old"], NOW)
    assert [r.id for r in restored] == ["old"] and restored[0].text.startswith("the old phone")
    await scheduler.run()  # used at NOW by the restore: retention is 1 again
    assert shards[0].store.get("acme", "alice", "old").last_accessed == NOW


class CrashingShards:
    """LocalShards that die (like a killed task) after ``calls`` shard calls."""

    def __init__(self, shards: list[MemoryShardCore], calls: int) -> None:
        self.local = LocalShards(shards)
        self.left = calls

    @property
    def num_shards(self) -> int:
        return self.local.num_shards

    def for_user(self, tenant: str, user: str) -> ShardAPI:
        core = self.local.cores[shard_for(tenant, user, self.num_shards)]

        async def send(method: str, args: tuple[Any, ...]) -> Any:
            self.left -= 1
            if self.left < 0:
                raise KeyboardInterrupt("killed")  # not an EchoRayError: nothing catches it
            return await invoke(core, method, args)

        return bind_user(send, tenant, user)

    def shard(self, index: int) -> ShardControl:
        return self.local.shard(index)


@pytest.mark.parametrize("calls", [0, 1, 2, 3, 4, 5])  # one shard call per step
async def test_a_run_killed_half_way_then_repeated_ends_like_a_clean_run(
    tmp_path: Path, calls: int
) -> None:
    clean_config = make_config(tmp_path / "clean")
    clean = make_local_shards(clean_config, EMBEDDER.dimension)
    await seed(clean)
    await make_local_consolidation(clean_config, clean, EMBEDDER, clock=lambda: NOW).run()

    config = make_config(tmp_path / "crashed")
    shards = make_local_shards(config, EMBEDDER.dimension)
    await seed(shards)
    before = {r.id for r in shards[0].store.scan("acme")}
    index = next(i for i, s in enumerate(shards) if s.owns("acme", "alice"))

    async def embed(texts: list[str]) -> Any:
        return EMBEDDER.embed(texts)

    with pytest.raises(KeyboardInterrupt):
        await consolidate_shard(
            shards[0].store,
            CrashingShards(shards, calls),
            shard_index=index,
            num_shards=2,
            config=config.consolidation,
            run_id="killed",
            now=NOW,
            embed=embed,
        )
    shards[index].end_consolidation("killed", False)  # the scheduler does this on failure
    await make_local_consolidation(config, shards, EMBEDDER, clock=lambda: NOW).run()

    # Nothing lost: every memory is still stored or archived; nothing twice.
    store = shards[0].store
    stored = [i for _, _, i in store.scan_memory_ids()]
    archived = [i for _, _, i in store.scan_archive_ids()]
    assert len(stored) == len(set(stored)) and len(archived) == len(set(archived))
    assert not set(stored) & set(archived)
    assert before <= set(stored) | set(archived)
    got, want = state(shards), state(clean)
    assert got["memories"] == want["memories"] and got["archive"] == want["archive"]
    assert got["survivor"] == want["survivor"] and got["patterns"] == want["patterns"]


async def test_two_runs_never_hold_one_shard(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    shards = make_local_shards(config, EMBEDDER.dimension)
    assert shards[0].begin_consolidation("first", 60)
    with pytest.raises(ShardBusyError):
        await consolidate_shard(
            shards[0].store,
            LocalShards(shards),
            shard_index=0,
            num_shards=2,
            config=config.consolidation,
            run_id="second",
            now=NOW,
        )
    scheduler = make_local_consolidation(config, shards, EMBEDDER, clock=lambda: NOW)
    run = await scheduler.run()
    assert {r["shard"]: r["state"] for r in run.as_dict()["shards"]} == {0: "failed", 1: "done"}
    assert run.state == "partial"
    shards[0].end_consolidation("first", True)
    assert (await scheduler.run()).state == "done"


async def test_short_term_threshold_starts_a_run_of_that_shard(tmp_path: Path) -> None:
    config = make_config(tmp_path, short_term_threshold=4)
    shards = make_local_shards(config, EMBEDDER.dimension)
    await seed(shards)  # 2 captures x 2 turns on alice's shard
    scheduler = make_local_consolidation(config, shards, EMBEDDER, clock=lambda: NOW)
    index = next(i for i, s in enumerate(shards) if s.owns("acme", "alice"))
    run = await scheduler.tick(NOW)
    assert run is not None and run.shards == [index] and run.reason == "short-term threshold"
    await run.done.wait()
    assert shards[index].consolidation_pressure() == 0
    assert await scheduler.tick(NOW) is None
    assert FORGOTTEN == "forgotten"
