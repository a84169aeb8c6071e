"""One shard's core over a real LanceDB folder: write, search, links, restart, budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from echoray.config import MemoryConfig
from echoray.errors import NotFoundError
from echoray.memory.core import MemoryShardCore
from echoray.memory.records import MemoryFilter, MemoryPatch
from echoray.memory.store import LanceDBStore
from tests.unit.memory.factory import CORPUS, EMBEDDER, record

DIMENSION = 384


def make_core(path: Path, **config: object) -> MemoryShardCore:
    settings = MemoryConfig.model_validate({"group_commit_window_ms": 2, **config})
    return MemoryShardCore(LanceDBStore(str(path), DIMENSION, limits=settings), settings)


def query(text: str):
    return EMBEDDER.embed([text])[0]


async def test_written_memories_are_searchable_and_survive_a_restart(tmp_path: Path) -> None:
    core = make_core(tmp_path)
    records = [record(text, seconds=i, session="s1") for i, text in enumerate(CORPUS)]
    result = await core.add("acme", "alice", records)
    assert sorted(result.inserted) == sorted(r.id for r in records) and result.existing == []
    flt = MemoryFilter(user="alice")
    before = core.search("acme", "alice", flt, query("tea without sugar"), "tea without sugar", 3)
    assert before[0].text == CORPUS[1]
    assert before[0].why.dense_rank is not None and before[0].why.lexical_rank is not None
    await core.close()

    restarted = make_core(tmp_path)  # a new process would do exactly this
    after = restarted.search(
        "acme", "alice", flt, query("tea without sugar"), "tea without sugar", 3
    )
    assert [(h.id, round(h.score, 9)) for h in after] == [(h.id, round(h.score, 9)) for h in before]
    assert len(restarted.graph) == len(core.graph) > 0  # temporal links were made and kept


async def test_concurrent_writes_share_commits_and_retries_never_duplicate(tmp_path: Path) -> None:
    core = make_core(tmp_path, group_commit_window_ms=20)
    batches = [[record(f"fact {b}-{i}", seconds=b * 10 + i)] for b in range(8) for i in range(2)]
    await asyncio.gather(*(core.add("acme", "alice", batch) for batch in batches))
    assert core._committer.commits < len(batches)  # grouped
    again = await core.add("acme", "alice", batches[0])  # a client retrying an acknowledged write
    assert again.inserted == [] and again.existing == [batches[0][0].id]
    assert core.store.count("acme", "alice") == len(batches)


async def test_one_id_written_twice_in_one_commit_keeps_what_lancedb_kept(
    tmp_path: Path,
) -> None:
    core = make_core(tmp_path, group_commit_window_ms=20)
    first = record("the first text", id="same", seconds=1)
    second = record("a second text", id="same", seconds=2)
    results = await asyncio.gather(
        core.add("acme", "alice", [first]), core.add("acme", "alice", [second])
    )
    assert core._committer.commits == 1  # both in one commit: the first one wins
    assert [r.inserted for r in results] == [["same"], []]
    assert [r.existing for r in results] == [[], ["same"]]
    stored = core.store.get("acme", "alice", "same")
    assert stored.text == "the first text"
    held = core.working_set.record("acme", "alice", "same") if core.working_set else None
    assert held is not None and held.text == stored.text


async def test_update_delete_and_forget_one_user_only(tmp_path: Path) -> None:
    core = make_core(tmp_path)
    mine, theirs = record("alice likes kayaking"), record("bob likes chess", user="bob")
    await core.add("acme", "alice", [mine])
    await core.add("acme", "bob", [theirs])
    new_text = "alice likes sailing"
    core.update("acme", "alice", mine.id, MemoryPatch(text=new_text, vector=query(new_text)))
    hits = core.search("acme", "alice", MemoryFilter(user="alice"), query("sailing"), "sailing", 1)
    assert hits[0].text == new_text
    assert core.delete_user("acme", "alice") == 1
    with pytest.raises(NotFoundError):
        core.get("acme", "alice", mine.id)
    assert core.get("acme", "bob", theirs.id).text == "bob likes chess"
    assert (
        core.search("acme", "alice", MemoryFilter(user="alice"), query("sailing"), "sailing", 5)
        == []
    )


async def test_over_the_ram_budget_search_moves_to_lancedb_indexes(tmp_path: Path) -> None:
    core = make_core(tmp_path, working_set_max_rows=4)
    await core.add("acme", "alice", [record(text, seconds=i) for i, text in enumerate(CORPUS[:3])])
    assert core.working_set is not None
    await core.add(
        "acme", "alice", [record(text, seconds=10 + i) for i, text in enumerate(CORPUS[3:])]
    )
    assert core.working_set is None  # over budget: served from LanceDB now
    hits = core.search(
        "acme",
        "alice",
        MemoryFilter(user="alice"),
        query("tea without sugar"),
        "tea without sugar",
        3,
    )
    assert hits[0].text == CORPUS[1]
    assert make_core(tmp_path, working_set_max_rows=4).working_set is None  # and after restart
