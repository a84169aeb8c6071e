from datetime import timedelta

import pytest

from echoray.cognition.coherence import check_coherence, disagree
from echoray.cognition.state import Candidate, CognitiveState
from tests.unit.cognition.factory import NOW, at_cosine, candidate, state, vec

DEFAULTS = {"duplicate_cosine": 0.95, "conflict_cosine": 0.8, "mmr_lambda": 0.7, "limit": 8}


def run(s: CognitiveState, **overrides: float) -> None:
    options = {**DEFAULTS, **overrides}
    check_coherence(
        s,
        duplicate_cosine=options["duplicate_cosine"],
        conflict_cosine=options["conflict_cosine"],
        mmr_lambda=options["mmr_lambda"],
        limit=int(options["limit"]),
    )


def ids(items: list[Candidate]) -> list[str]:
    return [c.id for c in items]


def test_near_duplicate_keeps_the_higher_scored() -> None:
    low = candidate("low", score=0.5, vector=at_cosine(0.97))
    high = candidate("high", score=0.9, vector=vec(1))
    other = candidate("other", score=0.7, vector=vec(0, 0, 1))
    s = state(candidates=[low, other, high])
    run(s)
    assert s.dropped == [("low", "near-duplicate of high")]
    assert ids(s.candidates) == ["high", "other"]
    assert ids(s.selected) == ["high", "other"]


def test_newer_fact_supersedes_the_older_one() -> None:
    old = candidate(
        "old",
        text="My flight leaves at 9",
        score=0.9,
        created_at=NOW - timedelta(days=2),
        vector=vec(1),
    )
    new = candidate("new", text="My flight leaves at 11", score=0.6, vector=at_cosine(0.85))
    s = state(candidates=[old, new])
    run(s)
    assert s.dropped == [("old", "superseded by new")]
    assert new.reasons == ["supersedes old"]
    assert ids(s.selected) == ["new"]


def test_agreeing_memories_on_one_topic_both_stay() -> None:
    a = candidate("a", text="I like coffee", score=0.9, created_at=NOW - timedelta(days=1))
    b = candidate("b", text="I like coffee a lot", score=0.8, vector=at_cosine(0.85))
    s = state(candidates=[a, b])
    run(s)
    assert s.dropped == []
    assert ids(s.selected) == ["a", "b"]


def test_disagreement_on_different_topics_is_no_conflict() -> None:
    old = candidate("old", text="I live in Berlin", created_at=NOW - timedelta(days=1))
    new = candidate("new", text="I live in Lisbon", vector=at_cosine(0.6))
    s = state(candidates=[old, new])
    run(s)
    assert s.dropped == []


def test_a_duplicate_is_not_also_a_conflict() -> None:
    old = candidate("old", text="I live in Berlin", score=0.9, created_at=NOW - timedelta(days=1))
    new = candidate("new", text="I live in Lisbon", score=0.5, vector=at_cosine(0.96))
    s = state(candidates=[old, new])
    run(s)
    assert s.dropped == [("new", "near-duplicate of old")]


def test_mmr_trades_score_for_diversity() -> None:
    # b is almost a's twin; c is different and scores a little lower.
    a = candidate("a", text="Nadia adopted a beagle", score=1.0, vector=vec(1))
    b = candidate("b", text="Nadia has a beagle puppy", score=0.95, vector=at_cosine(0.9))
    c = candidate("c", text="Nadia plays the cello", score=0.8, vector=vec(0, 0, 1))
    s = state(candidates=[a, b, c])
    run(s, limit=2)
    # after a: b gains 0.7*0.95 - 0.3*0.9 = 0.395, c gains 0.7*0.8 = 0.56
    assert ids(s.selected) == ["a", "c"]
    assert ids(s.candidates) == ["a", "b", "c"]
    run(s, limit=2, mmr_lambda=1.0)
    assert ids(s.selected) == ["a", "b"]
    run(s, limit=3)
    assert ids(s.selected) == ["a", "c", "b"]


def test_limit_zero_and_empty_pools_select_nothing() -> None:
    s = state(candidates=[candidate("a")])
    run(s, limit=0)
    assert s.selected == []
    empty = state()
    run(empty)
    assert empty.selected == [] and empty.dropped == []


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("I like coffee", "I don't like coffee"),
        ("Nadia is vegetarian", "Nadia is not vegetarian any more"),
        ("The flight leaves at 9", "The flight leaves at 11 now"),
        ("My rent is 1200 euros", "My rent is 1350 euros"),
        ("I live in Berlin", "I live in Lisbon"),
        ("Nadia's dog is called Max", "Nadia's dog is called Rex"),
        ("My sister lives in Rome now", "My sister lives in Oslo now"),
    ],
)
def test_disagreements(a: str, b: str) -> None:
    assert disagree(a, b) and disagree(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("I like coffee", "I like coffee"),
        ("I live in Berlin", "I live in Berlin with my wife"),
        ("I have 2 cats", "I have 2 cats and 1 dog"),
        ("I don't like coffee", "I don't drink coffee at night"),
        ("Nadia adopted a beagle", "Nadia has a beagle puppy"),
        ("The flight leaves at 9", "We booked 3 rooms for the wedding"),
        ("Went hiking in the Alps last summer with Tom", "Went hiking"),
    ],
)
def test_agreements(a: str, b: str) -> None:
    assert not disagree(a, b) and not disagree(b, a)
