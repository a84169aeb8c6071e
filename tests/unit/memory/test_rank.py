"""Scoring recall candidates: standardising, the previous-turn and session lifts, boosts."""

from __future__ import annotations

import numpy as np
import pytest

from echoray.memory.rank import (
    RankWeights,
    Signals,
    lift_by_session,
    lift_from_previous,
    moments,
    score,
    standardise,
)


def test_standardise_subtracts_the_mean_and_divides_by_the_std() -> None:
    # (1 - 3) / 2 = -1, (3 - 3) / 2 = 0, (7 - 3) / 2 = 2
    assert standardise(np.array([1.0, 3.0, 7.0]), 3.0, 2.0) == pytest.approx([-1.0, 0.0, 2.0])


def test_standardise_with_no_spread_tells_nothing() -> None:
    assert standardise(np.array([5.0, 5.0]), 5.0, 0.0).tolist() == [0.0, 0.0]
    assert standardise(np.array([1.0, 2.0]), 1.5, float("nan")).tolist() == [0.0, 0.0]


def test_moments_count_the_missing_values_as_zeros() -> None:
    # [2, 2] out of 4 is [2, 2, 0, 0]: mean 4/4 = 1, variance 8/4 - 1 = 1, std 1.
    assert moments(np.array([2.0, 2.0]), 4) == pytest.approx((1.0, 1.0))
    # All of them given: [1, 3] -> mean 2, variance (1 + 9)/2 - 4 = 1.
    assert moments(np.array([1.0, 3.0]), 2) == pytest.approx((2.0, 1.0))


def test_moments_of_nothing_are_zero() -> None:
    assert moments(np.array([]), 0) == (0.0, 0.0)


def test_a_turn_is_lifted_toward_a_better_previous_turn() -> None:
    # Candidate 2 follows candidate 1: 0.5 + 0.5 * (3.0 - 0.5) = 1.75.
    lifted = lift_from_previous(np.array([1.0, 3.0, 0.5]), np.array([-1, -1, 1]), 0.5)
    assert lifted == pytest.approx([1.0, 3.0, 1.75])


def test_a_turn_is_not_lowered_by_a_worse_previous_turn() -> None:
    # Candidate 1 follows candidate 0, which scores less (1 < 3): no change.
    lifted = lift_from_previous(np.array([1.0, 3.0]), np.array([-1, 0]), 0.5)
    assert lifted == pytest.approx([1.0, 3.0])


def test_the_previous_lift_uses_the_scores_before_lifting() -> None:
    # A chain 0 -> 1 -> 2: candidate 1 gets 1 + 0.5 * (3 - 1) = 2, and candidate 2 is lifted
    # by candidate 1's own score 1 (not its lifted 2): 0 + 0.5 * (1 - 0) = 0.5.
    lifted = lift_from_previous(np.array([3.0, 1.0, 0.0]), np.array([-1, 0, 1]), 0.5)
    assert lifted == pytest.approx([3.0, 2.0, 0.5])


def test_no_previous_lift_at_weight_zero() -> None:
    scores = np.array([0.0, 5.0])
    assert lift_from_previous(scores, np.array([1, -1]), 0.0).tolist() == [0.0, 5.0]


def test_each_session_is_lifted_by_the_mean_of_its_best_two_turns() -> None:
    scores = np.array([4.0, 6.0, 2.0, 5.0, 2.0, 7.0, 1.0, 3.0])
    session = np.array([0, 1, 0, 2, 1, -1, 0, -1])
    # session 0: 4, 2, 1 -> top two (4 + 2) / 2 = 3 (the mean of all, 7/3, would differ);
    # session 1: 6, 2 -> 4; session 2: its one turn, 5; no session (-1): no lift.
    expected = [
        4 + 0.1 * 3,
        6 + 0.1 * 4,
        2 + 0.1 * 3,
        5 + 0.1 * 5,
        2 + 0.1 * 4,
        7.0,
        1 + 0.1 * 3,
        3.0,
    ]
    assert lift_by_session(scores, session, 0.1) == pytest.approx(expected)


def test_no_session_lift_at_weight_zero_or_without_candidates() -> None:
    assert lift_by_session(np.array([1.0, 2.0]), np.array([0, 0]), 0.0).tolist() == [1.0, 2.0]
    assert len(lift_by_session(np.array([]), np.array([], dtype=np.int64), 0.1)) == 0


def signals(**changes: np.ndarray) -> Signals:
    """Three candidates: dense z-scores -1, 0, 1 with moments (0.4, 0.2), lexical z-scores
    -1, 1, -1 with moments (1, 1); candidate 0 by a named speaker, 1 says when, 2 in the
    period; no previous turn, no session."""
    fields = {
        "dense": np.array([0.2, 0.4, 0.6]),
        "lexical": np.array([0.0, 2.0, 0.0]),
        "by_named_speaker": np.array([True, False, False]),
        "says_when": np.array([False, True, False]),
        "in_period": np.array([False, False, True]),
        "previous": np.array([-1, -1, -1]),
        "session": np.array([-1, -1, -1]),
    }
    fields.update(changes)
    return Signals(**fields)


BOOSTS_ONLY = RankWeights(lexical=0.5, speaker=1.0, time=0.5, period=1.0, neighbour=0, session=0)


def test_speaker_time_and_period_boosts_add_to_the_fused_score() -> None:
    got = score(
        signals(), BOOSTS_ONLY, dense_moments=(0.4, 0.2), lexical_moments=(1.0, 1.0), asks_when=True
    )
    # fused: z(dense) + 0.5 * z(lexical) = [-1 - 0.5, 0 + 0.5, 1 - 0.5] = [-1.5, 0.5, 0.5]
    # + speaker 1.0 on 0, + time 0.5 on 1, + period 1.0 on 2
    assert got == pytest.approx([-0.5, 1.0, 1.5])


def test_the_time_boost_needs_a_question_that_asks_when() -> None:
    got = score(
        signals(),
        BOOSTS_ONLY,
        dense_moments=(0.4, 0.2),
        lexical_moments=(1.0, 1.0),
        asks_when=False,
    )
    # As above without the 0.5 on candidate 1: [-1.5 + 1, 0.5, 0.5 + 1].
    assert got == pytest.approx([-0.5, 0.5, 1.5])


def test_lexical_weight_zero_ignores_the_lexical_scores() -> None:
    weights = RankWeights(lexical=0.0, speaker=1.0, time=0.5, period=1.0, neighbour=0, session=0)
    got = score(
        signals(lexical=np.array([100.0, -50.0, 3.0])),
        weights,
        dense_moments=(0.4, 0.2),
        lexical_moments=(0.0, 1.0),
        asks_when=True,
    )
    # z(dense) [-1, 0, 1] + speaker [1, 0, 0] + time [0, 0.5, 0] + period [0, 0, 1]
    assert got == pytest.approx([0.0, 0.5, 2.0])


def test_score_lifts_by_the_previous_turn_then_by_the_session() -> None:
    got = score(
        signals(previous=np.array([-1, 2, -1]), session=np.array([0, 0, -1])),
        RankWeights(),  # neighbour 0.5, session 0.1, the boosts as in BOOSTS_ONLY
        dense_moments=(0.4, 0.2),
        lexical_moments=(1.0, 1.0),
        asks_when=True,
    )
    # After the boosts: [-0.5, 1.0, 1.5]. Candidate 1 follows 2: 1.0 + 0.5 * 0.5 = 1.25.
    # Session 0 holds -0.5 and 1.25: both + 0.1 * (0.75 / 2) = + 0.0375.
    assert got == pytest.approx([-0.4625, 1.2875, 1.5])
