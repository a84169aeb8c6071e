from datetime import timedelta

import pytest

from echoray.cognition.resonance import ResonanceWeights, recency, resonate
from echoray.cognition.state import Affect
from tests.unit.cognition.factory import NOW, candidate, state

WEEK_S = 7 * 86400.0


def test_recency_halves_every_half_life() -> None:
    assert recency(NOW, NOW, WEEK_S) == 1.0
    assert recency(NOW - timedelta(days=7), NOW, WEEK_S) == pytest.approx(0.5)
    assert recency(NOW - timedelta(days=14), NOW, WEEK_S) == pytest.approx(0.25)
    assert recency(NOW - timedelta(days=1), NOW, 86400) == pytest.approx(0.5)


def test_recency_of_a_future_time_is_one() -> None:
    assert recency(NOW + timedelta(seconds=5), NOW, WEEK_S) == 1.0


def test_recency_needs_a_positive_half_life() -> None:
    with pytest.raises(ValueError, match="half_life_s"):
        recency(NOW, NOW, 0)


def test_components_and_score_are_the_weighted_sum() -> None:
    c = candidate(
        "a",
        relevance=0.8,
        created_at=NOW - timedelta(days=7),
        importance=0.6,
        strength=0.4,
    )
    s = state(candidates=[c])
    resonate(s, ResonanceWeights(), WEEK_S)
    assert c.components == pytest.approx(
        {"relevance": 0.8, "recency": 0.5, "importance": 0.6, "affect": 0.5, "strength": 0.4}
    )
    # 0.5*0.8 + 0.15*0.5 + 0.15*0.6 + 0.05*0.5 + 0.15*0.4
    assert c.score == pytest.approx(0.65)


def test_last_access_counts_over_creation() -> None:
    c = candidate("a", created_at=NOW - timedelta(days=70), last_accessed=NOW - timedelta(days=7))
    resonate(state(candidates=[c]), ResonanceWeights(), WEEK_S)
    assert c.components["recency"] == pytest.approx(0.5)


def test_affect_is_congruence_with_the_query() -> None:
    joyful = candidate("joy", valence=0.8, arousal=0.7, dominance=0.6)
    grim = candidate("grim", valence=-0.8, arousal=0.7, dominance=0.6)
    s = state(candidates=[grim, joyful], query_affect=Affect(0.8, 0.7, 0.6))
    resonate(
        s, ResonanceWeights(relevance=0, recency=0, importance=0, affect=1, strength=0), WEEK_S
    )
    assert joyful.components["affect"] == 1.0 and joyful.score == 1.0
    assert grim.components["affect"] == pytest.approx(1 - (0.5 * 0.8**2) ** 0.5)
    assert [c.id for c in s.candidates] == ["joy", "grim"]


def test_fresh_strong_memory_outranks_stale_weak_one_of_equal_relevance() -> None:
    stale = candidate("stale", created_at=NOW - timedelta(days=60), strength=0.2)
    fresh = candidate("fresh", created_at=NOW - timedelta(hours=1), strength=1.0)
    s = state(candidates=[stale, fresh])
    resonate(s, ResonanceWeights(), WEEK_S)
    assert [c.id for c in s.candidates] == ["fresh", "stale"]


def test_relevance_dominates_by_default() -> None:
    relevant = candidate("relevant", relevance=0.9, created_at=NOW - timedelta(days=30))
    recent = candidate("recent", relevance=0.3)
    s = state(candidates=[recent, relevant])
    resonate(s, ResonanceWeights(), WEEK_S)
    assert [c.id for c in s.candidates] == ["relevant", "recent"]


def test_ties_are_broken_by_id() -> None:
    s = state(candidates=[candidate("b"), candidate("c"), candidate("a")])
    resonate(s, ResonanceWeights(), WEEK_S)
    assert [c.id for c in s.candidates] == ["a", "b", "c"]


def test_out_of_range_inputs_are_clipped() -> None:
    c = candidate("a", relevance=1.7, importance=-0.2)
    resonate(state(candidates=[c]), ResonanceWeights(), WEEK_S)
    assert (c.components["relevance"], c.components["importance"]) == (1.0, 0.0)
