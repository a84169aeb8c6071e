"""Hostile input and tenant isolation against a real LanceDB: literal matches, clear 4xx
errors, and never another tenant's or user's rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from echoray.errors import EchoRayError, NotFoundError, UnprocessableEntityError
from echoray.memory.records import MemoryFilter, MemoryPatch
from echoray.memory.short_term import ShortTermMemory
from echoray.memory.store import LanceDBStore
from tests.unit.memory.factory import EMBEDDER, record

HOSTILE = [
    "'",
    "' OR '1'='1",
    "alice' OR user = 'bob",
    "alice' --",
    "alice\\",
    "alice\\' OR '1'='1",
    "alice'; DELETE FROM memories; --",
    "alice OR 1=1",
    "alice\u2019 OR \u20181\u2019=\u20181",
    "ålice",
    "alice\x00",
    "a" * 10_000,
    "%",
    "*",
    "",
]
SECRET = "globex's secret"


@pytest.fixture
def seeded(store: LanceDBStore) -> LanceDBStore:
    store.append(
        [
            record("alice likes green tea", id="m1", session="s1", metadata={"tag": "tea"}),
            record("alice's quote", id="m2", metadata={"tag": "x' OR '1'='1"}),
            record("alice's backslash", id="m3", metadata={"tag": "a\\", "n": 1}),
            record("bob's diary", id="m4", user="bob", metadata={"tag": "tea"}),
            record(SECRET, id="m1", tenant="globex", metadata={"tag": "tea"}),
        ]
    )
    return store


def snapshot(store: LanceDBStore) -> list[tuple[str, str, str, str]]:
    return sorted((r.tenant, r.user, r.id, r.text) for r in store.scan())


def calls(store: LanceDBStore, value: str) -> list[Callable[[], Any]]:
    query = EMBEDDER.embed(["tea"])[0]
    return [
        lambda: store.get("acme", value, "m1"),
        lambda: store.get(value, "alice", "m1"),
        lambda: store.get("acme", "alice", value),
        lambda: store.get_many("acme", "alice", ["m1", value]),
        lambda: store.list_page("acme", value, 10),
        lambda: store.update("acme", "alice", value, MemoryPatch.build(pinned=True)),
        lambda: store.update("acme", value, "m1", MemoryPatch.build(pinned=True)),
        lambda: store.delete("acme", "alice", value),
        lambda: store.delete(value, "alice", "m1"),
        lambda: store.delete_many("acme", "alice", ["m1", value]),
        lambda: store.delete_user("acme", value),
        lambda: store.delete_user(value, "alice"),
        lambda: store.touch("acme", "alice", [value]),
        lambda: store.archive("acme", "alice", [value]),
        lambda: store.restore("acme", value, ["m1"]),
        lambda: store.list_links("acme", "alice", [value]),
        lambda: store.count("acme", value),
        lambda: list(store.scan(value)),
        lambda: list(store.scan("acme", [value])),
        lambda: store.vector_search("acme", MemoryFilter.build(user=value), query, 5),
        lambda: store.vector_search(
            "acme", MemoryFilter.build(user="alice", session=value), query, 5
        ),
        lambda: store.text_search(value, MemoryFilter.build(user="alice"), "tea", 5),
        lambda: store.recent_turns("acme", "alice", value, 5),
        lambda: store.delete_session("acme", value, "s1"),
        lambda: ShortTermMemory(store).append("acme", "alice", value, "user", "hi"),
    ]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_identifiers_are_refused_and_change_nothing(
    seeded: LanceDBStore, value: str
) -> None:
    before = snapshot(seeded)
    for call in calls(seeded, value):
        with pytest.raises(UnprocessableEntityError) as caught:
            call()
        assert caught.value.status_code == 422
    assert snapshot(seeded) == before


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_metadata_filters_match_literally(seeded: LanceDBStore, value: str) -> None:
    query = EMBEDDER.embed(["alice"])[0]
    found = seeded.vector_search(
        "acme", MemoryFilter.build(user="alice", metadata={"tag": value}), query, 10
    )
    assert found == []  # none of alice's tags is literally any of these


@pytest.mark.parametrize(
    ("tag", "expected"), [("x' OR '1'='1", ["m2"]), ("a\\", ["m3"]), ("tea", ["m1"])]
)
def test_metadata_values_with_sql_characters_are_plain_values(
    seeded: LanceDBStore, tag: str, expected: list[str]
) -> None:
    query = EMBEDDER.embed(["alice"])[0]
    found = seeded.vector_search(
        "acme", MemoryFilter.build(user="alice", metadata={"tag": tag}), query, 10
    )
    assert [r.id for r, _ in found] == expected


@pytest.mark.parametrize(
    "text",
    [
        "' OR '1'='1",
        "tea\\",
        '"unbalanced',
        "tea AND OR NOT",
        "((((",
        "tea' UNION SELECT * FROM memories --",
        "secret " * 500,
        "\u0000",
    ],
)
def test_hostile_full_text_queries_stay_in_scope(seeded: LanceDBStore, text: str) -> None:
    try:
        found = seeded.text_search("acme", MemoryFilter.build(user="alice"), text, 10)
    except EchoRayError as exc:  # a clear client error is acceptable, a crash is not
        assert 400 <= exc.status_code < 500
        return
    assert all((r.tenant, r.user) == ("acme", "alice") for r, _ in found)
    assert SECRET not in {r.text for r, _ in found}


def test_guessed_ids_never_reach_another_tenant(seeded: LanceDBStore) -> None:
    # globex has a memory "m1"; acme's alice also has "m1". Each sees only their own.
    assert seeded.get("globex", "alice", "m1").text == SECRET
    assert seeded.get("acme", "alice", "m1").text == "alice likes green tea"
    for guess in ("m2", "m3", "m4"):
        with pytest.raises(NotFoundError):
            seeded.get("globex", "alice", guess)
        with pytest.raises(NotFoundError):
            seeded.update("globex", "alice", guess, MemoryPatch.build(pinned=True))
        with pytest.raises(NotFoundError):
            seeded.delete("globex", "alice", guess)
        assert seeded.archive("globex", "alice", [guess]) == []
        assert seeded.touch("globex", "alice", [guess]) == 0
    # Bob's memory is not alice's either, within one tenant.
    with pytest.raises(NotFoundError):
        seeded.get("acme", "alice", "m4")
    seeded.update("globex", "alice", "m1", MemoryPatch.build(importance=1.0))
    assert seeded.get("acme", "alice", "m1").importance == 0.5
    seeded.delete("globex", "alice", "m1")
    assert seeded.get("acme", "alice", "m1").text == "alice likes green tea"


def test_listing_searching_and_deleting_stay_in_one_tenant(seeded: LanceDBStore) -> None:
    page = seeded.list_page("globex", "alice", 100)
    assert [r.text for r in page.records] == [SECRET]
    query = EMBEDDER.embed([SECRET])[0]
    hits = seeded.vector_search("acme", MemoryFilter.build(user="alice"), query, 10)
    assert SECRET not in {r.text for r, _ in hits}
    assert {r.tenant for r in seeded.scan("acme")} == {"acme"}
    assert seeded.delete_user("globex", "alice") == 1
    assert seeded.count("acme", "alice") == 3 and seeded.count("acme", "bob") == 1
    assert seeded.archive("acme", "alice", ["m1"]) == ["m1"]
    assert seeded.restore("globex", "alice", ["m1"]) == []  # acme's archive is not globex's
    assert [r.id for r in seeded.restore("acme", "alice", ["m1"])] == ["m1"]
