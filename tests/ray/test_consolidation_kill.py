"""Consolidation on real Ray: the Consolidator actor runs each shard as a Ray task; a task
killed half-way (its worker process dies) and a repeated run end with no memory lost and
none duplicated, and the shard actors' RAM follows. A Consolidator killed half-way comes
back (Ray restarts it) with its history and schedule, the cut-off run interrupted."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import ray

from echoray.config import config_from_args
from echoray.memory.records import MemoryFilter, Turn, utc_now
from echoray.memory.store import LanceDBStore
from echoray.serve.consolidator import start_consolidator
from echoray.serve.shard import ShardClient, start_shards
from tests.unit.memory.factory import EMBEDDER, record

pytestmark = pytest.mark.ray
USERS = [f"user-{i:02d}" for i in range(12)]


def memories_of(user: str) -> list:
    old = (utc_now() - timedelta(days=900) - record("x").created_at).total_seconds()
    fresh = (utc_now() - timedelta(hours=1) - record("x").created_at).total_seconds()
    return [
        *(
            record(
                f"{user} lives in Lisbon",
                user=user,
                id=f"dup-{n}",
                seconds=fresh + n,
                access_count=n,
            )
            for n in range(3)
        ),
        record(f"{user} old note about the weather", user=user, id="old", seconds=old),
        record(f"{user} likes green tea", user=user, id="tea", seconds=fresh),
    ]


@pytest.fixture
def make_cluster(ray_cluster: None, tmp_path: Path):
    """Shard actors and a Consolidator over a fresh folder, with consolidation settings
    over the defaults below."""
    started: list = []

    def make(**consolidation: Any):
        config = config_from_args(
            {
                "storage": {"uri": str(tmp_path / "db")},
                "embeddings": {"kind": "hash"},
                "memory": {"num_shards": 2, "group_commit_window_ms": 1},
                # slow enough per user that a kill lands in the middle of a run
                "consolidation": {
                    "pause_between_users_s": 0.4,
                    "compact": False,
                    "enabled": False,
                    **consolidation,
                },
            }
        )
        namespace = f"test-{uuid.uuid4().hex[:8]}"
        shards = start_shards(config, namespace=namespace)
        consolidator = start_consolidator(config, namespace=namespace)
        started.extend([*shards, consolidator])
        return config, shards, consolidator

    yield make
    for handle in started:
        ray.kill(handle, no_restart=True)


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


async def seed_and_wait_for_archiving(config, shards, consolidator) -> tuple:
    """Memories for every user, then a run of them that has begun archiving; returns
    the store, the memory ids before, and the started run."""
    client = ShardClient(shards, base_delay_s=0.1)
    for user in USERS:
        await client.for_user("acme", user).add(memories_of(user))
    store = LanceDBStore(config.storage.uri, 384, read_consistency_interval_s=0)
    before = set(store.scan_memory_ids())
    started = await consolidator.consolidate.remote("acme", False)
    deadline = time.monotonic() + 60
    while store.count_archive() == 0:  # the tasks are at work
        assert time.monotonic() < deadline, "consolidation never started"
        await asyncio.sleep(0.05)
    return store, before, started


def assert_consolidated_once(store: LanceDBStore, before: set) -> None:
    """Nothing lost, nothing in two places, and exactly what one clean run archives."""
    stored = list(store.scan_memory_ids())
    archived = list(store.scan_archive_ids())
    assert len(stored) == len(set(stored)) and len(archived) == len(set(archived))
    assert not set(stored) & set(archived)  # nothing in both tables
    assert before <= set(stored) | set(archived)  # nothing lost
    assert set(archived) == {("acme", u, i) for u in USERS for i in ("dup-1", "dup-2", "old")}


async def test_killed_task_then_repeated_run_loses_and_duplicates_nothing(cluster) -> None:
    config, shards, consolidator = cluster
    client = ShardClient(shards, base_delay_s=0.1)
    store, before, started = await seed_and_wait_for_archiving(config, shards, consolidator)
    assert await consolidator.kill_running_tasks.remote() >= 1
    killed = await consolidator.wait.remote(started["run_id"], 60)
    assert killed["state"] in ("failed", "partial")
    half = store.count_archive()
    assert 0 < half < 3 * len(USERS)  # the kill fell in the middle of the work

    run = await consolidator.consolidate.remote("acme", True)  # the lease was given back
    assert run["state"] == "done", run

    assert_consolidated_once(store, before)
    for user in USERS:
        survivor = store.get("acme", user, "dup-0")
        assert survivor.access_count == 0 + 1 + 2  # each duplicate counted once
        # The shard actor's working set followed: archived memories are not recalled.
        vector = EMBEDDER.embed([f"{user} lives in Lisbon"])[0]
        hits = await client.for_user("acme", user).search(
            MemoryFilter(user=user), vector, "Lisbon", 5
        )
        assert {h.id for h in hits} == {"dup-0", "tea"}
    status = await consolidator.status.remote()
    assert [r["run_id"] for r in status["history"]] == [run["run_id"], started["run_id"]]
    assert {s["state"] for s in status["history"][0]["shards"]} == {"done"}


async def status_after_restart(consolidator, cut_run_id: str) -> dict:
    """The status, once the restarted actor answers. Calls fail while it restarts, and
    ``ray.kill`` returns before the old actor is gone: an answer that still lists the cut
    run as running came from the old one."""
    deadline = time.monotonic() + 120
    while True:
        try:
            status: dict = await consolidator.status.remote()
            if cut_run_id not in [r["run_id"] for r in status["running"]]:
                return status
        except ray.exceptions.RayActorError:
            pass
        assert time.monotonic() < deadline, "the Consolidator did not come back"
        await asyncio.sleep(0.2)


async def test_a_restarted_consolidator_keeps_its_history_and_schedule(make_cluster) -> None:
    config, shards, consolidator = make_cluster(
        enabled=True, interval_s=3600, short_term_threshold=1, poll_s=0.5
    )
    finished = await consolidator.consolidate.remote("nobody", True)  # no users: quick
    assert finished["state"] == "done", finished
    before = await consolidator.status.remote()
    assert before["next_run_at"] is not None
    store, memories, cut = await seed_and_wait_for_archiving(config, shards, consolidator)

    ray.kill(consolidator, no_restart=False)  # dies in the middle of a run; Ray restarts it
    status = await status_after_restart(consolidator, cut["run_id"])
    assert [r["run_id"] for r in status["history"]] == [cut["run_id"], finished["run_id"]]
    assert status["history"][1] == before["history"][0]  # the finished run, as it was
    interrupted = status["history"][0]
    assert interrupted["state"] == "interrupted"
    assert {s["state"] for s in interrupted["shards"]} == {"interrupted"}
    assert status["running"] == []
    assert status["next_run_at"] == before["next_run_at"]  # the interval goes on

    # The cut-off run's tasks died with the actor; a new run finishes their work.
    run = await consolidator.consolidate.remote("acme", True)
    assert run["state"] == "done", run
    assert_consolidated_once(store, memories)

    # The restarted actor started its schedule itself: a shard's new turn starts a run.
    turn = Turn(tenant="acme", user="user-00", session="s1", seq=0, role="user", text="hi")
    await ShardClient(shards).for_user("acme", "user-00").add_turns([turn])
    deadline = time.monotonic() + 60
    while not any(
        r["reason"] == "short-term threshold"
        for r in (await consolidator.status.remote())["history"]
    ):
        assert time.monotonic() < deadline, "the schedule did not run after the restart"
        await asyncio.sleep(0.2)
