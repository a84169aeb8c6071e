from datetime import timedelta

import numpy as np
import pytest

from echoray.cognition.state import (
    Affect,
    Candidate,
    PatternMatch,
    by_score,
    last_user_turn,
    take_query,
)
from echoray.memory.records import MemoryRecord
from tests.unit.cognition.factory import NOW, candidate, state, vec


def test_last_user_turn_is_the_latest_user_message() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "prefilled"},
    ]
    assert last_user_turn(messages) == "second"


@pytest.mark.parametrize(
    "messages",
    [[], [{"role": "system", "content": "be brief"}, {"role": "assistant", "content": "hi"}]],
)
def test_no_user_turn_is_a_clear_error(messages: list[dict[str, str]]) -> None:
    with pytest.raises(ValueError, match="no user turn"):
        last_user_turn(messages)


def test_take_query_fills_the_state() -> None:
    s = state(messages=[{"role": "user", "content": "hello cello"}])
    take_query(s)
    assert s.query == "hello cello"


def test_states_do_not_share_their_lists() -> None:
    a, b = state(), state()
    a.dropped.append(("x", "why"))
    a.timings_ms["stage"] = 1.0
    assert b.dropped == [] and b.timings_ms == {}


def test_candidate_from_record_copies_the_memory() -> None:
    record = MemoryRecord(
        tenant="acme",
        user="nadia",
        session="s1",
        text="Nadia adopted a beagle",
        vector=[3.0, 4.0],
        created_at=NOW - timedelta(days=1),
        importance=0.7,
        valence=0.6,
        arousal=0.4,
        dominance=0.3,
        strength=0.9,
        access_count=2,
    )
    c = Candidate.from_record(
        record, relevance=0.8, source="associative", why={"link_path": ["a", "b"]}
    )
    assert (c.id, c.text, c.kind, c.session) == (record.id, record.text, "episodic", "s1")
    assert c.created_at == c.last_accessed == NOW - timedelta(days=1)
    assert (c.importance, c.strength, c.access_count) == (0.7, 0.9, 2)
    assert c.affect == Affect(0.6, 0.4, 0.3)
    assert np.allclose(c.vector, [0.6, 0.8])
    assert (c.relevance, c.source, c.why) == (0.8, "associative", {"link_path": ["a", "b"]})
    assert c.components == {} and c.reasons == []


def test_by_score_ranks_highest_first_then_by_id() -> None:
    items = [candidate("b", score=0.5), candidate("c", score=0.9), candidate("a", score=0.5)]
    assert [c.id for c in sorted(items, key=by_score)] == ["c", "a", "b"]


def test_candidates_compare_by_identity_not_by_vector() -> None:
    one, other = candidate("a", vector=vec(1)), candidate("a", vector=vec(1))
    assert one == one and one != other


def test_affect_and_pattern_as_dicts() -> None:
    assert Affect(-0.5, 0.25, 1.0).as_dict() == {"valence": -0.5, "arousal": 0.25, "dominance": 1.0}
    assert PatternMatch("p1", "cello practice", 0.8).as_dict() == {
        "id": "p1",
        "label": "cello practice",
        "confidence": 0.8,
    }
