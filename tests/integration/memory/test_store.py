"""LanceDBStore on a real database: writes, reads, pages, archive, links and the rest."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from echoray.config import MemoryConfig
from echoray.errors import (
    ConfigError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    UnprocessableEntityError,
)
from echoray.memory.recall import make_link
from echoray.memory.records import Experience, MemoryFilter, MemoryPatch, MemoryRecord, Pattern
from echoray.memory.store import LanceDBStore
from tests.unit.memory.factory import CORPUS, EMBEDDER, EPOCH, record


def test_append_then_get_round_trips_every_field(store: LanceDBStore) -> None:
    memory = record(
        "Alice likes tea",
        session="s1",
        kind="semantic",
        importance=0.7,
        valence=-0.3,
        arousal=0.2,
        dominance=0.9,
        strength=0.4,
        pinned=True,
        sources=["m1", "m2"],
        metadata={"topic": "tea", "nested": {"list": [1, "x"]}, "quote": "it's"},
    )
    result = store.append([memory])
    assert result.inserted == [memory.id] and result.existing == []
    assert store.get("acme", "alice", memory.id) == memory
    assert store.count() == 1 and store.count("acme", "alice") == 1


def test_append_is_idempotent_by_key(store: LanceDBStore) -> None:
    first = [record(text, seconds=i) for i, text in enumerate(CORPUS[:3])]
    store.append(first)
    retried = store.append([*first, record("a new one")])
    assert sorted(retried.existing) == sorted(r.id for r in first)
    assert len(retried.inserted) == 1
    repeated = record("twice in one batch", id="dup")
    assert store.append([repeated, repeated]).inserted == ["dup"]
    assert store.count() == 5


def test_get_missing_and_get_many_order(store: LanceDBStore) -> None:
    a, b = record("a", id="a"), record("b", id="b")
    store.append([a, b])
    assert [r.id for r in store.get_many("acme", "alice", ["b", "zzz", "a", "b"])] == ["b", "a"]
    with pytest.raises(NotFoundError) as caught:
        store.get("acme", "alice", "zzz")
    assert caught.value.status_code == 404 and caught.value.code == "memory_not_found"


def test_list_pages_with_a_stable_cursor(store: LanceDBStore) -> None:
    # Equal timestamps on purpose: id breaks the tie.
    memories = [record(f"m{i}", id=f"id{i:02d}", seconds=i // 3) for i in range(11)]
    store.append(memories[5:])
    store.append(memories[:5])
    store.append([record("bob's", user="bob")])
    seen, cursor, pages = [], None, 0
    while True:
        page = store.list_page("acme", "alice", 4, cursor)
        seen += [r.id for r in page.records]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"id{i:02d}" for i in range(11)]
    assert pages == 3
    with pytest.raises(InvalidRequestError):
        store.list_page("acme", "alice", 4, "garbage")
    with pytest.raises(UnprocessableEntityError):
        store.list_page("acme", "alice", 0)
    with pytest.raises(UnprocessableEntityError):
        store.list_page("acme", "alice", 101)


def test_update_changes_only_the_patched_fields(store: LanceDBStore) -> None:
    memory = record("old text", importance=0.1)
    store.append([memory])
    vector = EMBEDDER.embed(["new text"])[0]
    updated = store.update(
        "acme", "alice", memory.id, MemoryPatch.build(text="new text", vector=vector, pinned=True)
    )
    assert store.get("acme", "alice", memory.id) == updated
    assert (updated.text, updated.pinned, updated.importance) == ("new text", True, 0.1)
    assert store.count() == 1
    with pytest.raises(NotFoundError):
        store.update("acme", "alice", "missing", MemoryPatch.build(pinned=True))
    with pytest.raises(PayloadTooLargeError):
        store.update("acme", "alice", memory.id, MemoryPatch.build(metadata={"x": "y" * 5000}))


def test_touch_counts_accesses(store: LanceDBStore) -> None:
    memory = record("touched")
    store.append([memory])
    later = EPOCH + timedelta(days=3)
    assert store.touch("acme", "alice", [memory.id, "absent"], at=later) == 1
    again = store.get("acme", "alice", memory.id)
    assert again.access_count == 1 and again.last_accessed == later


def test_delete_and_delete_user_touch_only_their_rows(store: LanceDBStore) -> None:
    alice = [record(f"alice {i}", id=f"a{i}", session="s1") for i in range(3)]
    bob = [record(f"bob {i}", id=f"a{i}", user="bob") for i in range(2)]
    other_tenant = [record("globex alice", id="a0", tenant="globex")]
    store.append(alice + bob + other_tenant)
    store.add_links([make_link("acme", "alice", "a0", "a1", "temporal", 1.0)])
    store.add_links([make_link("acme", "bob", "a0", "a1", "temporal", 1.0)])
    store.delete("acme", "alice", "a0")
    assert store.list_links("acme", "alice") == []
    assert len(store.list_links("acme", "bob")) == 1
    with pytest.raises(NotFoundError):
        store.delete("acme", "alice", "a0")
    assert store.delete_user("acme", "alice") == 2
    assert store.count("acme", "alice") == 0
    assert store.count("acme", "bob") == 2
    assert store.get("globex", "alice", "a0").text == "globex alice"


def test_archive_and_restore_lose_nothing(store: LanceDBStore) -> None:
    memories = [record(text, id=f"m{i}") for i, text in enumerate(CORPUS[:4])]
    store.append(memories)
    assert store.archive("acme", "alice", ["m1", "m2", "missing"], reason="decayed") == ["m1", "m2"]
    assert store.count("acme", "alice") == 2
    assert [r.id for r in store.list_archive("acme", "alice", ids=["m1", "m2"])] in (
        ["m1", "m2"],
        ["m2", "m1"],
    )
    assert len(store.list_archive("acme", "alice")) == 2
    # A crash after the copy and before the delete: archiving again finishes the move.
    store.append([memories[3]])
    store.archive("acme", "alice", ["m3"])
    assert store.archive("acme", "alice", ["m3"]) == []
    restored = store.restore("acme", "alice", ["m2", "m3"])
    assert sorted(r.id for r in restored) == ["m2", "m3"]
    assert store.get("acme", "alice", "m2") == memories[2]
    assert store.count("acme", "alice") == 3
    assert [r.id for r in store.list_archive("acme", "alice")] == ["m1"]


def test_links_are_idempotent(store: LanceDBStore) -> None:
    links = [
        make_link("acme", "alice", "a", "b", "temporal", 0.9),
        make_link("acme", "alice", "b", "a", "temporal", 0.9),  # the same undirected link
        make_link("acme", "alice", "a", "c", "neighbour", 0.8),
    ]
    assert store.add_links(links) == 2
    assert store.add_links(links) == 0
    assert len(store.list_links("acme", "alice", ["c"])) == 1
    assert len(list(store.scan_links())) == 2
    assert list(store.scan_links(owns=lambda tenant, user: user == "bob")) == []


def test_experiences_and_patterns(store: LanceDBStore) -> None:
    experience = Experience.build(
        tenant="acme",
        user="alice",
        query="what tea?",
        memory_ids=["m1"],
        response="green",
        model="fake",
        latency_ms=12.5,
        metadata={"ok": True},
    )
    assert store.append_experiences([experience]) == 1
    assert store.append_experiences([experience]) == 0
    [back] = store.list_experiences("acme", "alice")
    assert back.model_dump() == experience.model_dump()
    assert store.list_experiences("acme", "bob") == []
    pattern = Pattern.build(
        tenant="acme", user="alice", centroid=np.ones(384), count=3, strength=0.5, label="tea"
    )
    store.upsert_patterns([pattern])
    store.upsert_patterns([pattern.model_copy(update={"count": 4})])
    [stored] = store.list_patterns("acme", "alice")
    assert stored.count == 4 and np.allclose(stored.centroid, 1.0)
    with pytest.raises(UnprocessableEntityError):
        store.upsert_patterns([pattern.model_copy(update={"centroid": np.ones(3)})])


def test_an_experience_another_process_wrote_is_found(tmp_path: Path) -> None:
    # Two shards' stores: the tenant's shard looks up what the user's shard recorded.
    reader = LanceDBStore(str(tmp_path / "db"), 384)
    writer = LanceDBStore(str(tmp_path / "db"), 384)
    experience = Experience.build(
        tenant="acme", user="bob", query="q", response="r", model="fake", latency_ms=1.0
    )
    with pytest.raises(NotFoundError):
        reader.get_experience("acme", experience.id)
    writer.append_experiences([experience])
    assert reader.get_experience("acme", experience.id).user == "bob"
    with pytest.raises(NotFoundError):
        reader.get_experience("globex", experience.id)


def test_a_store_with_read_consistency_survives_compaction_elsewhere(tmp_path: Path) -> None:
    # What a shard actor sees when a compaction task removes the versions it had read.
    shard = LanceDBStore(str(tmp_path / "db"), 384, read_consistency_interval_s=0.05)
    shard.append([record("first", id="a")])
    shard.append([record("second", id="b")])
    other = LanceDBStore(str(tmp_path / "db"), 384)
    other.append([record("third", id="c")])
    with pytest.warns(UserWarning):  # cleanup of every older version, on purpose here
        other.compact(keep_versions_s=0)
    time.sleep(0.1)
    assert {m.id for m in shard.get_many("acme", "alice", ["a", "b", "c"])} == {"a", "b", "c"}


def test_compaction_indexes_users_and_reads_still_find_every_row(tmp_path: Path) -> None:
    store = LanceDBStore(str(tmp_path / "db"), 384)
    store.append([record(f"note {i}", user=f"u{i % 3}", id=f"m{i}") for i in range(30)])
    store.compact(keep_versions_s=60)
    indexed = {
        name: {tuple(i.columns) for i in store._tables[name].list_indices()}
        for name in ("memories", "archive")
    }
    assert ("user",) in indexed["memories"]
    assert indexed["archive"] == set()  # nothing to index yet: created once it has rows
    store.append([record("added after the index", user="u1", id="late")])  # not indexed yet
    found = store.get_many("acme", "u1", ["m1", "m4", "late", "m2"])
    assert sorted(m.id for m in found) == ["late", "m1", "m4"]
    assert store.archive("acme", "u1", ["m1", "late"]) == ["m1", "late"]
    store.compact(keep_versions_s=60)  # the archive has rows now
    assert ("user",) in {tuple(i.columns) for i in store._tables["archive"].list_indices()}
    assert [m.id for m in store.list_archive("acme", "u1")] in (["late", "m1"], ["m1", "late"])
    assert store.count() == 29


def test_limits_and_dimensions_are_enforced(tmp_path: Path) -> None:
    store = LanceDBStore(str(tmp_path / "db"), 384, limits=MemoryConfig(max_batch=2))
    with pytest.raises(PayloadTooLargeError):
        store.append([record("a"), record("b"), record("c")])
    with pytest.raises(UnprocessableEntityError):
        store.append([record("short vector").model_copy(update={"vector": np.ones(3, np.float32)})])
    with pytest.raises(UnprocessableEntityError):
        store.append([])
    store.append([record("fine")])
    with pytest.raises(ConfigError, match="384"):
        LanceDBStore(str(tmp_path / "db"), 768)


def test_data_survives_reopening(tmp_path: Path) -> None:
    uri = str(tmp_path / "db")
    memory = record("durable")
    LanceDBStore(uri, 384).append([memory])
    assert LanceDBStore(uri, 384).get("acme", "alice", memory.id) == memory


def test_scan_selects_owners(store: LanceDBStore) -> None:
    store.append([record("a", user="alice"), record("b", user="bob"), record("c", tenant="globex")])
    assert len(list(store.scan())) == 3
    assert {r.user for r in store.scan("acme")} == {"alice", "bob"}
    assert [r.user for r in store.scan("acme", ["bob"])] == ["bob"]
    assert [r.tenant for r in store.scan(owns=lambda tenant, user: tenant == "globex")] == [
        "globex"
    ]


def test_lancedb_fallback_search(store: LanceDBStore) -> None:
    store.append(
        [
            record(text, id=f"c{i}", session="s1" if i < 5 else "s2", metadata={"i": i % 2})
            for i, text in enumerate(CORPUS)
        ]
    )
    store.append([record("green tea for bob", user="bob")])
    query = EMBEDDER.embed(["green tea"])[0]
    found = store.vector_search("acme", MemoryFilter.build(user="alice"), query, 3)
    exact = sorted(
        ((f"c{i}", float(EMBEDDER.embed([t])[0] @ query)) for i, t in enumerate(CORPUS)),
        key=lambda x: -x[1],
    )[:3]
    assert [(r.id, round(s, 4)) for r, s in found] == [(i, round(s, 4)) for i, s in exact]
    odd = store.vector_search("acme", MemoryFilter.build(user="alice", metadata={"i": 1}), query, 3)
    assert [r.id for r, _ in odd] and all(r.metadata["i"] == 1 for r, _ in odd)
    text = store.text_search("acme", MemoryFilter.build(user="alice"), "green tea", 3)
    assert {r.id for r, _ in text[:2]} == {"c1", "c7"}
    assert (
        store.text_search("acme", MemoryFilter.build(user="alice", session="s2"), "tea", 5)[0][0].id
        == "c7"
    )
    assert store.text_search("acme", MemoryFilter.build(user="carol"), "tea", 5) == []
    store.ensure_indexes(vector_min_rows=10**9)


def test_indexed_fallback_search_finds_the_nearest(store: LanceDBStore) -> None:
    vectors = np.random.default_rng(0).standard_normal((600, 384)).astype(np.float32)
    memories = [
        MemoryRecord.build(tenant="acme", user="alice", text=f"memory number {i}", vector=v)
        for i, v in enumerate(vectors)
    ]
    store.append(memories[:300])
    store.append(memories[300:])
    store.ensure_indexes(vector_min_rows=500)
    assert {i.index_type for i in store._memories.list_indices()} == {"FTS", "IvfHnswSq"}
    query = memories[7].vector
    exact = sorted(memories, key=lambda r: -float(r.vector @ query))[:3]
    found = store.vector_search("acme", MemoryFilter.build(user="alice"), query, 3)
    assert found[0][0].id == memories[7].id
    assert [round(s, 3) for _, s in found] == [round(float(r.vector @ query), 3) for r in exact]
    late = record("added after the index")
    store.append([late])  # not covered by the index yet, found all the same
    found = store.text_search("acme", MemoryFilter.build(user="alice"), "added index", 1)
    assert [r.id for r, _ in found] == [late.id]
