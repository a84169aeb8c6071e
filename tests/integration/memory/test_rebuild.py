"""A restarted shard rebuilds its RAM state from LanceDB and answers exactly as before."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from echoray.config import MemoryConfig
from echoray.memory.graph import LinkGraph
from echoray.memory.hashing import shard_for
from echoray.memory.recall import neighbour_links, recall, temporal_links
from echoray.memory.records import MemoryFilter, MemoryRecord
from echoray.memory.short_term import ShortTermMemory
from echoray.memory.store import LanceDBStore
from echoray.memory.working_set import WorkingSet
from tests.unit.memory.factory import CORPUS, EMBEDDER, EPOCH, record

# Strong associations, so linked memories compete with direct hits and show in answers.
# Equal fusion weights and no decay, so associated memories reach the answers compared below.
CONFIG = MemoryConfig(
    link_neighbour_threshold=0.3,
    association_decay=1.0,
    association_max_added=5,
    lexical_weight=1.0,
)


def write(
    store: LanceDBStore, ws: WorkingSet, graph: LinkGraph, records: list[MemoryRecord]
) -> None:
    """What a shard does on a write: commit, then update RAM, then link."""
    stored = store.append(records)
    new = [r for r in records if r.id in set(stored.inserted)]
    recent = [r for r in records if r not in new]
    ws.upsert(new)
    links = temporal_links(new, recent, CONFIG.link_temporal_window_s)
    for r in new:
        near = ws.dense_search(r.tenant, MemoryFilter.build(user=r.user), r.vector, 6)
        links += neighbour_links(
            r,
            [(n.id, n.score) for n in near],
            CONFIG.link_neighbour_threshold,
            CONFIG.link_neighbour_top_k,
        )
    store.add_links(links)
    graph.add(links)


def everything(uri: str) -> list[MemoryRecord]:
    users = ["alice", "bob"]
    out = []
    for i, text in enumerate(CORPUS * 3):
        out.append(
            record(
                f"{text} ({i})",
                user=users[i % 2],
                session=f"s{i % 3}",
                seconds=i * 40,
                kind="semantic" if i % 4 == 0 else "episodic",
                metadata={"i": i % 3},
            )
        )
    return out


def answers(ws: WorkingSet, graph: LinkGraph) -> list[list[tuple[str, float, object]]]:
    out = []
    for query in ("green tea", "the cat and the water", "Friday meeting report"):
        for flt in (
            MemoryFilter.build(user="alice"),
            MemoryFilter.build(user="bob", session="s1"),
            MemoryFilter.build(user="alice", kinds=["semantic"], metadata={"i": 0}),
            MemoryFilter.build(user="bob", created_after=EPOCH + timedelta(seconds=400)),
        ):
            hits = recall(
                ws,
                graph,
                tenant="acme",
                flt=flt,
                query_vector=EMBEDDER.embed([query])[0],
                query_text=query,
                limit=10,
                config=CONFIG,
            )
            out.append([(h.id, round(h.score, 6), h.why.model_dump()) for h in hits])
    return out


def test_rebuilt_working_set_and_graph_answer_identically(tmp_path: Path) -> None:
    uri = str(tmp_path / "db")
    store = LanceDBStore(uri, 384)
    ws, graph = WorkingSet(384), LinkGraph()
    records = everything(uri)
    for start in range(0, len(records), 7):
        write(store, ws, graph, records[start : start + 7])
    before = answers(ws, graph)
    assert any(any(why["link_path"] for _, _, why in hits) for hits in before)

    restarted = LanceDBStore(uri, 384)
    ws2, graph2 = WorkingSet(384), LinkGraph()
    assert ws2.load(restarted.scan()) == len(records)
    graph2.add(restarted.scan_links())
    assert answers(ws2, graph2) == before
    for user in ("alice", "bob"):
        for memory_id in ws.ids("acme", user):
            assert graph2.neighbours("acme", user, memory_id) == graph.neighbours(
                "acme", user, memory_id
            )


def test_a_shard_loads_only_the_users_it_owns(tmp_path: Path) -> None:
    store = LanceDBStore(str(tmp_path / "db"), 384)
    users = [f"user-{i}" for i in range(40)]
    store.append([record(f"hello {u}", user=u) for u in users])
    loaded = []
    for shard in range(3):
        ws = WorkingSet(384)
        ws.load(store.scan(owns=lambda tenant, user, s=shard: shard_for(tenant, user, 3) == s))
        loaded.append(len(ws))
        for user in users:
            owned = shard_for("acme", user, 3) == shard
            assert (len(ws.ids("acme", user)) == 1) is owned
    assert sum(loaded) == len(users)


def test_working_set_agrees_with_lancedb_exact_search(tmp_path: Path) -> None:
    store = LanceDBStore(str(tmp_path / "db"), 384)
    records = everything("")
    store.append(records)
    ws = WorkingSet(384)
    ws.load(store.scan())
    query = EMBEDDER.embed(["tea and the cat"])[0]
    for flt in (MemoryFilter.build(user="alice"), MemoryFilter.build(user="bob", session="s2")):
        ours = [(r.id, r.score) for r in ws.dense_search("acme", flt, query, 8)]
        theirs = [(r.id, s) for r, s in store.vector_search("acme", flt, query, 8)]
        assert np.allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
        # Equal scores (the corpus repeats) may come in another order, and a tie at the
        # cut may keep another of the tied memories; everything else must be the same.
        cut = round(ours[-1][1], 4)
        assert {(round(s, 4), i) for i, s in ours if round(s, 4) != cut} == {
            (round(s, 4), i) for i, s in theirs if round(s, 4) != cut
        }


def test_short_term_memory_survives_a_restart(tmp_path: Path) -> None:
    uri = str(tmp_path / "db")
    memory = ShortTermMemory(LanceDBStore(uri, 384), max_turns=4)
    for i in range(9):
        memory.append("acme", "alice", "s1", "user" if i % 2 == 0 else "assistant", f"turn {i}")
    memory.append("acme", "bob", "s1", "user", "bob's turn")
    restarted = ShortTermMemory(LanceDBStore(uri, 384), max_turns=4)
    assert [t.text for t in restarted.recent("acme", "alice", "s1")] == [
        f"turn {i}" for i in range(5, 9)
    ]
    assert [t.text for t in restarted.recent("acme", "bob", "s1")] == ["bob's turn"]
    assert restarted.append("acme", "alice", "s1", "user", "next").seq == 9
    store = LanceDBStore(uri, 384)
    assert len(store.recent_turns("acme", "alice", "s1", 100)) < 8  # trimmed on disk too
    assert restarted.forget("acme", "alice", "s1") > 0
    assert ShortTermMemory(LanceDBStore(uri, 384)).recent("acme", "alice", "s1") == []
