"""Rank fusion, spreading activation, link rules and recall end to end (in RAM)."""

from __future__ import annotations

import pytest

from echoray.config import MemoryConfig
from echoray.memory.graph import LinkGraph
from echoray.memory.recall import (
    make_link,
    neighbour_links,
    recall,
    reciprocal_rank_fusion,
    spread_activation,
    temporal_links,
)
from echoray.memory.records import MemoryFilter
from echoray.memory.working_set import WorkingSet
from tests.unit.memory.factory import CORPUS, EMBEDDER, record


def test_rrf_scores_and_ranks() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)
    scores = {f.id: f.score for f in fused}
    assert scores == pytest.approx({"a": 1 / 61 + 1 / 62, "b": 1 / 62, "c": 1 / 63 + 1 / 61})
    assert [f.id for f in fused] == ["a", "c", "b"]
    assert {f.id: f.ranks for f in fused} == {"a": (1, 2), "b": (2, None), "c": (3, 1)}


def test_rrf_ties_are_deterministic() -> None:
    # x and y have equal scores: the better single rank wins, then the id.
    fused = reciprocal_rank_fusion([["x", "y"], ["y", "x"]], k=60)
    assert [f.id for f in fused] == ["x", "y"]
    assert reciprocal_rank_fusion([["b"], ["a"]])[0].id == "a"
    assert reciprocal_rank_fusion([[], []]) == []


def test_rrf_counts_a_repeated_id_once() -> None:
    fused = reciprocal_rank_fusion([["a", "a", "b"]], k=1)
    assert {f.id: f.score for f in fused} == pytest.approx({"a": 1 / 2, "b": 1 / 4})


GRAPH = {
    "s": [("a", 1.0), ("b", 0.5)],
    "a": [("s", 1.0), ("c", 0.8), ("b", 1.0)],
    "b": [("s", 0.5), ("a", 1.0)],
    "c": [("a", 0.8), ("d", 1.0)],
    "d": [("c", 1.0)],
}


def test_spreading_activation_decays_per_hop_and_keeps_the_best_path() -> None:
    reached = spread_activation({"s": 1.0}, lambda n: GRAPH[n], hops=2, decay=0.5)
    assert set(reached) == {"a", "b", "c"}  # d is three hops away
    assert reached["a"].activation == pytest.approx(0.5)
    assert reached["a"].path == ("s", "a")
    # b: directly 0.5*0.5 = 0.25, through a 0.5*0.5*1.0 = 0.25 -> the first found stays
    assert reached["b"].activation == pytest.approx(0.25)
    assert reached["c"].activation == pytest.approx(0.5 * 0.5 * 0.8)
    assert reached["c"].path == ("s", "a", "c")


def test_spreading_activation_limits() -> None:
    one_hop = spread_activation({"s": 1.0}, lambda n: GRAPH[n], hops=1, decay=0.5)
    assert set(one_hop) == {"a", "b"}
    assert spread_activation({"s": 1.0}, lambda n: GRAPH[n], hops=0) == {}
    strong = spread_activation(
        {"s": 1.0}, lambda n: GRAPH[n], hops=2, decay=0.5, min_activation=0.3
    )
    assert set(strong) == {"a"}
    # Seeds are never "reached", and paths never loop.
    both = spread_activation({"s": 1.0, "a": 1.0}, lambda n: GRAPH[n], hops=2, decay=0.5)
    assert "s" not in both and "a" not in both
    assert all(len(set(x.path)) == len(x.path) for x in both.values())


def test_make_link_is_canonical() -> None:
    one = make_link("acme", "alice", "b", "a", "temporal", 1.7)
    two = make_link("acme", "alice", "a", "b", "temporal", 1.7)
    assert (one.src, one.dst, one.weight) == (two.src, two.dst, 1.0)


def test_temporal_links_join_one_session_within_the_window() -> None:
    earlier = record("earlier", id="e", session="s1", seconds=0)
    other_session = record("elsewhere", id="o", session="s2", seconds=10)
    too_old = record("too old", id="t", session="s1", seconds=-1000)
    other_user = record("not mine", id="u", user="bob", session="s1", seconds=5)
    new = [
        record("first", id="n1", session="s1", seconds=30),
        record("second", id="n2", session="s1", seconds=60),
        record("no session", id="n3", seconds=60),
    ]
    links = temporal_links(new, [earlier, other_session, too_old, other_user], window_s=120)
    pairs = {(link.src, link.dst): link.weight for link in links}
    assert pairs == pytest.approx(
        {
            ("e", "n1"): 1 - 0.5 * 30 / 120,
            ("e", "n2"): 1 - 0.5 * 60 / 120,
            ("n1", "n2"): 1 - 0.5 * 30 / 120,
        }
    )
    assert all(link.kind == "temporal" for link in links)


def test_neighbour_links_use_threshold_and_top_k() -> None:
    new = record("new", id="n")
    neighbours = [("n", 1.0), ("a", 0.95), ("b", 0.85), ("c", 0.82), ("d", 0.5)]
    links = neighbour_links(new, neighbours, threshold=0.8, top_k=2)
    assert [(link.src, link.dst, link.weight) for link in links] == [
        ("a", "n", pytest.approx(0.95)),
        ("b", "n", pytest.approx(0.85)),
    ]
    assert neighbour_links(new, neighbours, threshold=0.99, top_k=5) == []


@pytest.fixture
def corpus() -> WorkingSet:
    ws = WorkingSet(384)
    ws.upsert(
        [
            record(text, id=f"c{i}", session="s1", kind="semantic" if i == 4 else "episodic")
            for i, text in enumerate(CORPUS)
        ]
    )
    return ws


def test_recall_fuses_dense_and_lexical_with_reasons(corpus: WorkingSet) -> None:
    query = "green tea"
    hits = recall(
        corpus,
        None,
        tenant="acme",
        flt=MemoryFilter.build(user="alice"),
        query_vector=EMBEDDER.embed([query])[0],
        query_text=query,
        limit=3,
        config=MemoryConfig(),
    )
    assert [h.id for h in hits][:2] == ["c7", "c1"]
    assert hits[0].why.dense_rank == 1 and hits[0].why.lexical_rank == 1
    assert hits[0].why.link_path is None
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# Associations on (off by default), strong enough that c6, two hops away, enters the top 4.
LINKS_CONFIG = MemoryConfig(
    association_decay=0.9, association_max_added=5, lexical_weight=0.25, session_lift=0.0
)


def test_recall_adds_linked_memories_with_their_path(corpus: WorkingSet) -> None:
    graph = LinkGraph()
    graph.add(
        [
            make_link("acme", "alice", "c7", "c4", "neighbour", 1.0),  # tea -> sister
            make_link("acme", "alice", "c4", "c6", "temporal", 1.0),  # sister -> train
            make_link("acme", "bob", "c7", "c2", "temporal", 1.0),  # another user's graph
        ]
    )
    query = "green tea"
    hits = recall(
        corpus,
        graph,
        tenant="acme",
        flt=MemoryFilter.build(user="alice"),
        query_vector=EMBEDDER.embed([query])[0],
        query_text=query,
        limit=4,
        config=LINKS_CONFIG,
    )
    by_id = {h.id: h for h in hits}
    assert by_id["c4"].why.link_path == ["c7", "c4"]
    assert by_id["c4"].score == pytest.approx(by_id["c7"].score * 0.9)
    assert by_id["c6"].why.link_path == ["c7", "c4", "c6"]
    assert "c2" not in by_id  # bob's link is not alice's
    # The filter also binds associations: c4 is the only semantic memory.
    only_episodic = recall(
        corpus,
        graph,
        tenant="acme",
        flt=MemoryFilter.build(user="alice", kinds=["episodic"]),
        query_vector=EMBEDDER.embed([query])[0],
        query_text=query,
        limit=4,
        config=LINKS_CONFIG,
    )
    by_id = {h.id: h for h in only_episodic}
    assert "c4" not in by_id
    # Activation may pass through a memory the filter hides, to reach one it allows.
    assert by_id["c6"].why.link_path == ["c7", "c4", "c6"]
    assert by_id["c6"].score == pytest.approx(by_id["c7"].score * 0.9 * 0.9)


def test_recall_without_associations(corpus: WorkingSet) -> None:
    graph = LinkGraph()
    graph.add([make_link("acme", "alice", "c7", "c4", "neighbour", 1.0)])
    hits = recall(
        corpus,
        graph,
        tenant="acme",
        flt=MemoryFilter.build(user="alice"),
        query_vector=EMBEDDER.embed(["green tea"])[0],
        query_text=None,
        limit=2,
        config=MemoryConfig(association_hops=0),
    )
    assert all(h.why.link_path is None and h.why.lexical_rank is None for h in hits)


def test_link_graph() -> None:
    graph = LinkGraph()
    graph.add(
        [
            make_link("acme", "alice", "a", "b", "temporal", 0.4),
            make_link("acme", "alice", "a", "b", "neighbour", 0.9),
            make_link("acme", "alice", "a", "c", "temporal", 0.5),
        ]
    )
    assert len(graph) == 2
    assert graph.neighbours("acme", "alice", "a") == [("b", 0.9), ("c", 0.5)]
    assert graph.neighbours("acme", "bob", "a") == []
    graph.remove("acme", "alice", ["b"])
    assert graph.neighbours("acme", "alice", "a") == [("c", 0.5)]
    graph.remove_user("acme", "alice")
    assert len(graph) == 0


def test_fusion_weights_scale_each_list() -> None:
    from echoray.memory.recall import reciprocal_rank_fusion

    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=0, weights=(1.0, 0.25))
    assert [f.id for f in fused] == ["a", "b"]
    assert fused[0].score == pytest.approx(1 + 0.25 / 2)
    unweighted = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=0)
    assert unweighted[0].score == pytest.approx(1.5)


def test_spreading_is_bounded_by_fanout_and_beam() -> None:
    # A hub linked to 20 memories (weights falling), each linked on to one more memory.
    edges = {"hub": [(f"m{i}", 1.0 - i / 100) for i in range(20)]}
    edges.update({f"m{i}": [(f"far{i}", 1.0)] for i in range(20)})

    def neighbours(node: str) -> list[tuple[str, float]]:
        return edges.get(node, [])

    unbounded = spread_activation({"hub": 1.0}, neighbours, hops=2, decay=1.0)
    assert len(unbounded) == 40
    bounded = spread_activation({"hub": 1.0}, neighbours, hops=2, decay=1.0, fanout=5, beam=2)
    # Five strongest links at the hub; only the two best of them spread a second hop.
    assert sorted(bounded) == ["far0", "far1", "m0", "m1", "m2", "m3", "m4"]
    assert bounded["far1"].path == ("hub", "m1", "far1")
