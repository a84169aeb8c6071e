"""Consolidation on real Ray: the Consolidator actor runs each shard as a Ray task; a task
killed half-way (its worker process dies) and a repeated run end with no memory lost and
none duplicated, and the shard actors' RAM follows."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import ray

from echoray.config import config_from_args
from echoray.memory.records import MemoryFilter, utc_now
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
def cluster(ray_cluster: None, tmp_path: Path):
    config = config_from_args(
        {
            "storage": {"uri": str(tmp_path / "db")},
            "embeddings": {"kind": "hash"},
            "memory": {"num_shards": 2, "group_commit_window_ms": 1},
            # slow enough per user that a kill lands in the middle of a run
            "consolidation": {"pause_between_users_s": 0.4, "compact": False, "enabled": False},
        }
    )
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    shards = start_shards(config, namespace=namespace)
    consolidator = start_consolidator(config, namespace=namespace)
    yield config, shards, consolidator
    for handle in [*shards, consolidator]:
        ray.kill(handle, no_restart=True)


async def test_killed_task_then_repeated_run_loses_and_duplicates_nothing(cluster) -> None:
    config, shards, consolidator = cluster
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
    assert await consolidator.kill_running_tasks.remote() >= 1
    killed = await consolidator.wait.remote(started["run_id"], 60)
    assert killed["state"] in ("failed", "partial")
    half = store.count_archive()
    assert 0 < half < 3 * len(USERS)  # the kill fell in the middle of the work

    run = await consolidator.consolidate.remote("acme", True)  # the lease was given back
    assert run["state"] == "done", run

    stored = list(store.scan_memory_ids())
    archived = list(store.scan_archive_ids())
    assert len(stored) == len(set(stored)) and len(archived) == len(set(archived))
    assert not set(stored) & set(archived)  # nothing in both tables
    assert before <= set(stored) | set(archived)  # nothing lost
    assert set(archived) == {("acme", u, i) for u in USERS for i in ("dup-1", "dup-2", "old")}
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
