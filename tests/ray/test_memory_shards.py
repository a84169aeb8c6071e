"""MemoryShard actors on real Ray with real LanceDB on disk: crash in the middle of a
concurrent ingest, restart, and nothing acknowledged is lost or duplicated."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import ray

from echoray.config import config_from_args
from echoray.memory.hashing import shard_for
from echoray.memory.records import MemoryFilter
from echoray.serve.shard import ShardClient, start_shards
from tests.unit.memory.factory import EMBEDDER, record

pytestmark = pytest.mark.ray


@pytest.fixture
def shards(ray_cluster: None, tmp_path: Path):
    config = config_from_args(
        {
            "storage": {"uri": str(tmp_path / "db")},
            # small commits, so a kill after the first acknowledgement finds writes in flight
            "memory": {"num_shards": 2, "group_commit_max_batch": 20},
        }
    )
    namespace = f"test-{uuid.uuid4().hex[:8]}"
    handles = start_shards(config, namespace=namespace)
    ray.get([h.call.remote("ping") for h in handles])
    yield handles
    for handle in handles:
        ray.kill(handle, no_restart=True)


async def test_kill_mid_ingest_loses_and_duplicates_nothing(
    shards, caplog: pytest.LogCaptureFixture
) -> None:
    client = ShardClient(shards, base_delay_s=0.1)
    shard = client.actor("acme", "alice")
    batches = [
        [record(f"fact {b}-{i} about alice", seconds=b * 100 + i, session="s") for i in range(10)]
        for b in range(40)
    ]
    first_ack = asyncio.Event()
    acked_before_kill: list[int] = []

    async def ingest(batch):
        result = await client.for_user("acme", "alice").add(batch)
        first_ack.set()
        return result.inserted + result.existing

    async def kill_midway():
        await first_ack.wait()
        acked_before_kill.append(sum(task.done() for task in tasks))
        ray.kill(shard, no_restart=False)  # Ray restarts it; it rebuilds from LanceDB

    tasks = [asyncio.create_task(ingest(batch)) for batch in batches]
    await kill_midway()
    acknowledged = await asyncio.gather(*tasks)
    assert acked_before_kill[0] < len(batches)  # the kill really fell in the middle...
    assert any("retrying" in r.getMessage() for r in caplog.records)  # ...of calls in flight
    acked_ids = [i for ids in acknowledged for i in ids]
    assert len(acked_ids) == 400 and len(set(acked_ids)) == 400
    alice = client.for_user("acme", "alice")
    assert await alice.count() == 400
    page = await alice.list_page(100, None)
    assert len({r.id for r in page.records}) == 100


async def test_a_restarted_shard_answers_the_same_searches(shards) -> None:
    client = ShardClient(shards)
    bob = client.for_user("acme", "bob")
    await bob.add(
        [
            record(text, user="bob", seconds=i)
            for i, text in enumerate(
                ["bob plays chess on sundays", "bob's cat is called Miso", "bob works as a baker"]
            )
        ],
    )
    vector = EMBEDDER.embed(["what is the cat called"])[0]
    flt = MemoryFilter(user="bob")
    before = await bob.search(flt, vector, "cat called", 3)
    ray.kill(client.actor("acme", "bob"), no_restart=False)
    after = await bob.search(flt, vector, "cat called", 3)
    assert [(h.id, h.score) for h in after] == [(h.id, h.score) for h in before]
    assert after[0].text == "bob's cat is called Miso"


def test_a_user_always_maps_to_the_same_shard() -> None:
    assert [shard_for("acme", f"user-{i}", 4) for i in range(50)] == [
        shard_for("acme", f"user-{i}", 4) for i in range(50)
    ]
