"""The RAM working set: exact search equals brute force under every filter."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from echoray.errors import ServiceUnavailableError, UnprocessableEntityError
from echoray.memory.records import MemoryFilter, MemoryRecord, Why
from echoray.memory.safe import metadata_matches
from echoray.memory.working_set import WorkingSet
from tests.unit.memory.factory import CORPUS, EPOCH, record

DIM = 16
KINDS = ["episodic", "semantic", "reflection", "procedural"]


def random_records(count: int, seed: int = 0) -> list[MemoryRecord]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(count):
        records.append(
            MemoryRecord.build(
                id=f"m{i}",
                tenant=str(rng.choice(["acme", "globex"])),
                user=str(rng.choice(["alice", "bob", "carol"])),
                session=str(rng.choice(["s1", "s2"])) if rng.random() < 0.8 else None,
                kind=str(rng.choice(KINDS)),
                text=f"memory {i} " + str(rng.choice(["tea", "coffee", "water"])),
                vector=rng.standard_normal(DIM),
                created_at=EPOCH + timedelta(minutes=int(rng.integers(0, 1000))),
                metadata={"topic": str(rng.choice(["a", "b"])), "n": int(rng.integers(0, 3))},
            )
        )
    return records


def brute_force(
    records: list[MemoryRecord],
    tenant: str,
    flt: MemoryFilter,
    query: np.ndarray,
    k: int,
    centering: float = 0.0,
) -> list[tuple[str, float]]:
    q = query / np.linalg.norm(query)
    owned = [r.vector for r in records if r.tenant == tenant and r.user == flt.user]
    if centering and owned:
        q = q - centering * np.mean(owned, axis=0)
    kept = [
        r
        for r in records
        if r.tenant == tenant
        and r.user == flt.user
        and (flt.session is None or r.session == flt.session)
        and (not flt.kinds or r.kind in flt.kinds)
        and (flt.created_after is None or r.created_at >= flt.created_after)
        and (flt.created_before is None or r.created_at < flt.created_before)
        and metadata_matches(r.metadata, flt.metadata)
    ]
    scored = sorted(((r.id, float(r.vector @ q)) for r in kept), key=lambda x: (-x[1], x[0]))
    return scored[:k]


FILTERS = [
    {"user": "alice"},
    {"user": "bob", "session": "s1"},
    {"user": "carol", "kinds": ["semantic", "reflection"]},
    {"user": "alice", "created_after": EPOCH + timedelta(minutes=200)},
    {"user": "alice", "created_before": EPOCH + timedelta(minutes=500), "session": "s2"},
    {"user": "bob", "metadata": {"topic": "a"}},
    {"user": "bob", "metadata": {"topic": "b", "n": 2.0}, "kinds": ["episodic"]},
    {"user": "alice", "session": "never-seen"},
    {"user": "nobody"},
]


@pytest.fixture(scope="module")
def records() -> list[MemoryRecord]:
    return random_records(1500)


@pytest.fixture
def working_set(records: list[MemoryRecord]) -> WorkingSet:
    ws = WorkingSet(DIM, initial_rows=8)  # small start: exercises growth
    ws.load(records, chunk=100)
    return ws


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.parametrize("tenant", ["acme", "globex", "unknown"])
def test_dense_search_equals_brute_force(
    working_set: WorkingSet, records: list[MemoryRecord], tenant: str, flt: dict
) -> None:
    query = np.random.default_rng(7).standard_normal(DIM)
    memory_filter = MemoryFilter.build(**flt)
    got = working_set.dense_search(tenant, memory_filter, query, 10)
    expected = brute_force(records, tenant, memory_filter, query, 10)
    assert [r.id for r in got] == [i for i, _ in expected]
    assert [r.score for r in got] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert [r.rank for r in got] == list(range(1, len(got) + 1))


def test_search_after_removals_and_updates(records: list[MemoryRecord]) -> None:
    ws = WorkingSet(DIM, initial_rows=8)
    ws.load(records)
    rng = np.random.default_rng(3)
    current = {r.key: r for r in records}
    for r in rng.choice(len(records), 400, replace=False):
        victim = records[int(r)]
        assert ws.remove(victim.tenant, victim.user, [victim.id]) == 1
        del current[victim.key]
    replaced = []
    for r in list(current.values())[:100]:
        new = r.model_copy(update={"vector": rng.standard_normal(DIM).astype(np.float32)})
        new.vector /= np.linalg.norm(new.vector)
        replaced.append(new)
        current[r.key] = new
    ws.upsert(replaced)
    assert len(ws) == len(current)
    remaining = list(current.values())
    query = rng.standard_normal(DIM)
    for flt in FILTERS:
        memory_filter = MemoryFilter.build(**flt)
        got = [(r.id, r.score) for r in ws.dense_search("acme", memory_filter, query, 15)]
        expected = brute_force(remaining, "acme", memory_filter, query, 15)
        assert [i for i, _ in got] == [i for i, _ in expected]


def test_remove_user_and_tenant_isolation(working_set: WorkingSet, records: list) -> None:
    alice_acme = [r for r in records if r.key[:2] == ("acme", "alice")]
    assert sorted(working_set.ids("acme", "alice")) == sorted(r.id for r in alice_acme)
    assert working_set.remove("acme", "alice", [alice_acme[0].id] * 2) == 1  # repeats count once
    assert working_set.remove_user("acme", "alice") == len(alice_acme) - 1
    flt = MemoryFilter.build(user="alice")
    assert working_set.dense_search("acme", flt, np.ones(DIM), 10) == []
    assert working_set.lexical_search("acme", flt, "tea coffee water memory", 10) == []
    assert working_set.dense_search("globex", flt, np.ones(DIM), 10)  # untouched
    # Same id in another tenant is another memory.
    some = alice_acme[0]
    assert working_set.vector("acme", "alice", some.id) is None
    assert working_set.allowed_ids("acme", flt, [some.id]) == set()


def test_same_id_for_two_owners_is_two_memories() -> None:
    ws = WorkingSet(384)
    mine = record("tea with lemon", id="shared", tenant="acme")
    theirs = record("secret plans", id="shared", tenant="globex")
    ws.upsert([mine, theirs])
    assert len(ws) == 2
    hits = ws.lexical_search("acme", MemoryFilter.build(user="alice"), "secret plans", 5)
    assert hits == []
    assert ws.hit("acme", "alice", "shared", 1.0, Why()).text == "tea with lemon"


def test_lexical_search_respects_filters() -> None:
    ws = WorkingSet(384)
    ws.upsert(
        [
            record(text, id=f"c{i}", session="s1" if i % 2 else "s2", seconds=i)
            for i, text in enumerate(CORPUS)
        ]
    )
    everything = ws.lexical_search("acme", MemoryFilter.build(user="alice"), "green tea", 10)
    assert [r.id for r in everything][:2] == ["c7", "c1"]
    only_s1 = ws.lexical_search(
        "acme", MemoryFilter.build(user="alice", session="s1"), "green tea", 10
    )
    assert [r.id for r in only_s1] == ["c7", "c1"]
    only_s2 = ws.lexical_search(
        "acme", MemoryFilter.build(user="alice", session="s2"), "green tea", 10
    )
    assert only_s2 == []


def test_budget_is_enforced() -> None:
    ws = WorkingSet(384, max_rows=3)
    ws.upsert([record("one", id="a"), record("two", id="b")])
    ws.upsert([record("two again", id="b")])  # a replacement needs no new row
    with pytest.raises(ServiceUnavailableError) as caught:
        ws.upsert([record("three", id="c"), record("four", id="d")])
    assert caught.value.code == "working_set_full"
    assert len(ws) == 2 and ws.fits(1) and not ws.fits(2)


def test_wrong_dimensions_are_refused() -> None:
    ws = WorkingSet(DIM)
    with pytest.raises(UnprocessableEntityError):
        ws.upsert([record("384 values")])
    with pytest.raises(UnprocessableEntityError):
        ws.dense_search("acme", MemoryFilter.build(user="alice"), np.ones(DIM + 1), 3)
    with pytest.raises(UnprocessableEntityError):
        ws.dense_search("acme", MemoryFilter.build(user="alice"), np.full(DIM, np.nan), 3)


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.parametrize("torch_from_rows", [0, 10**9])
def test_float16_search_is_exact_over_the_stored_vectors(
    records: list[MemoryRecord], flt: dict, torch_from_rows: int, monkeypatch
) -> None:
    """The float16 path scores roughly with torch, then rescores exactly (or, for few rows,
    widens blocks with numpy): either way the exact float32 ranking of the float16-rounded
    vectors, ids and scores."""
    monkeypatch.setattr("echoray.memory.scan.TORCH_MIN_ROWS", torch_from_rows)
    half = WorkingSet(DIM, dtype="float16")
    half.load(records)
    rounded = [
        r.model_copy(update={"vector": r.vector.astype(np.float16).astype(np.float32)})
        for r in records
    ]
    query = np.random.default_rng(5).standard_normal(DIM)
    memory_filter = MemoryFilter.build(**flt)
    got = half.dense_search("globex", memory_filter, query, 25)
    expected = brute_force(rounded, "globex", memory_filter, query, 25)
    assert [r.id for r in got] == [i for i, _ in expected]
    assert [r.score for r in got] == pytest.approx([s for _, s in expected], abs=1e-6)


def test_float16_ranks_like_float32(records: list[MemoryRecord]) -> None:
    half = WorkingSet(DIM, dtype="float16")
    half.load(records)
    full = WorkingSet(DIM)
    full.load(records)
    query = np.random.default_rng(11).standard_normal(DIM)
    flt = MemoryFilter.build(user="carol")
    a = half.dense_search("acme", flt, query, 5)
    b = full.dense_search("acme", flt, query, 5)
    assert [r.score for r in a] == pytest.approx([r.score for r in b], abs=5e-3)
    assert half.nbytes < full.nbytes


def test_hit_carries_the_fields() -> None:
    ws = WorkingSet(384)
    memory = record("hello there", id="h1", session="s9", kind="semantic", metadata={"x": 1})
    ws.upsert([memory])
    hit = ws.hit("acme", "alice", "h1", 0.5, Why(dense_rank=1))
    assert (hit.id, hit.text, hit.kind, hit.session, hit.metadata) == (
        "h1",
        "hello there",
        "semantic",
        "s9",
        {"x": 1},
    )
    assert hit.created_at == memory.created_at and hit.why.dense_rank == 1


def test_ties_are_broken_by_id_whatever_the_load_order() -> None:
    same = [record("green tea again", id=f"t{i}") for i in range(6)]
    forwards, backwards = WorkingSet(384), WorkingSet(384)
    forwards.upsert(same)
    backwards.upsert(same[::-1])
    flt = MemoryFilter.build(user="alice")
    query = same[0].vector
    for ws in (forwards, backwards):
        assert [r.id for r in ws.dense_search("acme", flt, query, 3)] == ["t0", "t1", "t2"]
        assert [r.id for r in ws.lexical_search("acme", flt, "tea", 3)] == ["t0", "t1", "t2"]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_nearest_many_equals_dense_search_per_query(
    records: list[MemoryRecord], dtype: str, monkeypatch
) -> None:
    monkeypatch.setattr("echoray.memory.working_set._NEAREST_BLOCK", 100)  # several blocks
    ws = WorkingSet(DIM, dtype=dtype)  # type: ignore[arg-type]
    ws.load(records)
    queries = np.random.default_rng(9).standard_normal((7, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    many = ws.nearest_many("acme", "bob", queries, 6)
    for query, got in zip(queries, many, strict=True):
        one = ws.dense_search("acme", MemoryFilter.build(user="bob"), query, 6)
        assert [i for i, _ in got] == [r.id for r in one]
        assert [s for _, s in got] == pytest.approx([r.score for r in one], abs=1e-5)
    assert ws.nearest_many("acme", "nobody", queries, 6) == [[] for _ in queries]
