import numpy as np
import pytest

from echoray.cognition.goals import align_goals
from tests.unit.cognition.factory import at_cosine, candidate, state, vec

GOALS = ["learn cello", "run a marathon"]
GOAL_VECTORS = np.stack([vec(1), vec(0, 1)])


def test_without_goals_nothing_changes() -> None:
    c = candidate("a", score=0.4)
    s = state(candidates=[c])
    align_goals(s, boost=0.2)
    assert c.score == 0.4 and c.components == {} and c.reasons == []


def test_goal_component_boost_and_reason() -> None:
    cello = candidate("cello", score=0.5, vector=at_cosine(0.6, base=0, other=2))
    unrelated = candidate("unrelated", score=0.55, vector=at_cosine(0.2, base=1, other=2))
    opposed = candidate("opposed", score=0.3, vector=-vec(1))
    s = state(goals=GOALS, goal_vectors=GOAL_VECTORS, candidates=[unrelated, cello, opposed])
    align_goals(s, boost=0.2)
    assert cello.components["goal"] == pytest.approx(0.6)
    assert cello.score == pytest.approx(0.5 + 0.2 * 0.6)
    assert cello.reasons == ["serves goal: learn cello"]
    # Its best goal is the marathon, but 0.2 is below the reason's threshold.
    assert unrelated.components["goal"] == pytest.approx(0.2)
    assert unrelated.score == pytest.approx(0.55 + 0.2 * 0.2)
    assert unrelated.reasons == []
    # A negative cosine is clipped: no penalty.
    assert opposed.components["goal"] == 0.0 and opposed.score == 0.3
    assert [c.id for c in s.candidates] == ["cello", "unrelated", "opposed"]


def test_the_closest_goal_names_the_reason() -> None:
    runner = candidate("runner", vector=vec(0.3, 1))
    s = state(goals=GOALS, goal_vectors=GOAL_VECTORS, candidates=[runner])
    align_goals(s, boost=0.2)
    assert runner.reasons == ["serves goal: run a marathon"]
    assert runner.components["goal"] == pytest.approx(1 / np.sqrt(1.09))


def test_a_selected_candidate_is_boosted_once() -> None:
    c = candidate("a", score=0.5, vector=vec(1))
    other = candidate("b", score=0.6, vector=vec(0, 0, 1))
    s = state(goals=GOALS, goal_vectors=GOAL_VECTORS, candidates=[other, c], selected=[other, c])
    align_goals(s, boost=0.2)
    assert c.score == pytest.approx(0.7)
    assert [x.id for x in s.selected] == ["a", "b"]


def test_goal_vectors_must_match_goals() -> None:
    s = state(goals=["learn cello"], goal_vectors=GOAL_VECTORS, candidates=[candidate("a")])
    with pytest.raises(ValueError, match="1 goals"):
        align_goals(s, boost=0.2)
