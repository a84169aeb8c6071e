"""The pure consolidation steps: retention, merge planning, clustering, patterns."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np

from echoray.config import ConsolidationConfig
from echoray.learning.clustering import OnlineClusters
from echoray.learning.forgetting import retention, retention_curve, stability_s, to_forget
from echoray.learning.merging import MERGED_KEY, combine, moved_links, plan_merges
from echoray.learning.patterns import learn_patterns
from echoray.learning.reflection import clusters, extractive_summary
from echoray.memory.records import Experience, Link
from tests.unit.memory.factory import EPOCH, record

CONFIG = ConsolidationConfig()


def test_retention_decays_with_time_and_lasts_longer_with_use_and_importance() -> None:
    plain = record("a note", importance=0.0)
    used = record("a note", importance=0.0, access_count=5)
    vital = record("a note", importance=1.0)
    later = EPOCH + timedelta(days=60)
    assert retention(plain, EPOCH, CONFIG) == 1.0
    assert math.isclose(retention(plain, later, CONFIG), math.exp(-2.0))  # S = 30 days
    assert retention(plain, later, CONFIG) < retention(used, later, CONFIG)
    assert retention(plain, later, CONFIG) < retention(vital, later, CONFIG)
    weak = record("a note", importance=0.0, strength=0.0)  # feedback weakened it
    assert stability_s(weak, CONFIG) == stability_s(plain, CONFIG) / 4
    curve = retention_curve(plain, CONFIG, [0, 30, 60])
    assert curve[0] == 1.0 and curve[1] > curve[2]


def test_to_forget_keeps_pinned_and_recent_memories() -> None:
    old = record("old", importance=0.0)
    pinned = record("pinned", importance=0.0, pinned=True)
    fresh = record("fresh", importance=0.0, seconds=400 * 86400)
    now = EPOCH + timedelta(days=400)
    assert to_forget([old, pinned, fresh], now, CONFIG) == [old.id]


def test_merges_fold_duplicates_into_the_oldest_and_count_each_once() -> None:
    a = record("I live in Lisbon", id="a", seconds=1, access_count=1, strength=0.5)
    b = record("I live in Lisbon", id="b", seconds=2, access_count=2, strength=0.5)
    c = record("I live in Lisbon", id="c", seconds=3, kind="semantic")  # another kind
    other = record("tea is green", id="d")
    (merge,) = plan_merges([b, a, c, other], 0.95)
    assert merge.survivor.id == "a" and merge.merged == ["b"]
    assert merge.survivor.access_count == 3 and merge.survivor.strength == 0.75
    assert merge.survivor.metadata[MERGED_KEY] == ["b"]
    assert combine(merge.survivor, [b]) == merge.survivor  # repeated: nothing twice


def test_a_pinned_duplicate_survives_and_two_pinned_stay_apart() -> None:
    a = record("same text", id="a", seconds=1)
    b = record("same text", id="b", seconds=2, pinned=True)
    (merge,) = plan_merges([a, b], 0.95)
    assert merge.survivor.id == "b" and merge.merged == ["a"]
    both = [record("same text", id=i, pinned=True) for i in ("x", "y")]
    assert plan_merges(both, 0.95) == []


def test_links_of_merged_memories_move_to_the_survivor() -> None:
    a, b = record("same", id="a", seconds=1), record("same", id="b", seconds=2)
    (merge,) = plan_merges([a, b], 0.95)
    links = [
        Link.build(tenant="acme", user="alice", src="b", dst="z", kind="temporal", weight=0.4),
        Link.build(tenant="acme", user="alice", src="a", dst="b", kind="neighbour", weight=1.0),
    ]
    moved = moved_links(merge, links)
    assert [(k.src, k.dst, k.kind) for k in moved] == [("a", "z", "temporal")]


def test_online_clusters_join_close_vectors_and_grow_past_capacity() -> None:
    rng = np.random.default_rng(0)
    bases = rng.standard_normal((100, 16)).astype(np.float32)
    bases /= np.linalg.norm(bases, axis=1, keepdims=True)
    online = OnlineClusters(16, 0.99, capacity=4)
    for i, vector in enumerate([*bases, *bases]):
        online.add(i, vector)
    assert len(online) == 100 and all(len(m) == 2 for m in online.members)


def test_reflection_clusters_skip_covered_memories_and_summaries_are_extractive() -> None:
    texts = ["my dog Rex loves the park. He runs.", "Rex my dog loves the park", "my dog Rex"]
    members = [record(t, id=f"m{i}", seconds=i) for i, t in enumerate(texts)]
    (cluster,) = clusters(members, 0.5, 3)
    summary = extractive_summary(cluster, 2)
    assert "He runs." not in summary and any(t.split(".")[0] in summary for t in texts)
    covered = record("summary", id="r", kind="reflection", sources=["m0", "m1", "m2"])
    assert clusters([*members, covered], 0.5, 3) == []


def test_patterns_group_similar_requests_and_strength_grows_with_count() -> None:
    queries = ["what is the weather", "what is the weather today", "book a table"]
    memories = [record(q, id=f"q{i}") for i, q in enumerate(queries)]
    experiences = [
        Experience.build(
            id=f"e{i}",
            tenant="acme",
            user="alice",
            created_at=EPOCH + timedelta(seconds=i),
            query=q,
            response="ok",
            model="fake",
            latency_ms=1.0,
        )
        for i, q in enumerate(queries)
    ]
    vectors = {f"e{i}": m.vector for i, m in enumerate(memories)}
    patterns = learn_patterns(experiences, vectors, cosine=0.6, max_patterns=8, now=EPOCH)
    assert [p.count for p in patterns] == [2, 1]
    assert patterns[0].strength > patterns[1].strength
    again = learn_patterns(experiences, vectors, cosine=0.6, max_patterns=8, now=EPOCH)
    assert [p.id for p in again] == [p.id for p in patterns]  # idempotent ids
