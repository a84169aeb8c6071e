import numpy as np
import pytest

from echoray.cognition.importance import importance, novelty, salience
from tests.unit.cognition.factory import vec


def test_novelty_is_one_minus_the_closest_neighbour() -> None:
    assert novelty([]) == 1.0
    assert novelty([0.2, 0.9, 0.5]) == pytest.approx(0.1)
    assert novelty([-0.3]) == 1.0
    assert novelty([1.0000001]) == 0.0


def test_salience_signals() -> None:
    # length 2/20 only.
    assert salience("ok thanks") == pytest.approx(0.3 * 2 / 20)
    # length 8/20, first person, a digit and proper nouns.
    assert salience("I met Nadia in Lisbon on 3 May") == pytest.approx(0.3 * 0.4 + 0.3 + 0.2 + 0.2)
    # A name at the start of a sentence counts; a common sentence start does not.
    assert salience("Nadia adopted a beagle") == pytest.approx(0.3 * 4 / 20 + 0.2)
    assert salience("The cat sleeps") == pytest.approx(0.3 * 3 / 20)
    assert salience("my") == pytest.approx(0.3 / 20 + 0.3)
    assert salience(" ".join(["word"] * 40)) == pytest.approx(0.3)


def test_importance_mixes_novelty_and_salience() -> None:
    text = "I met Nadia in Lisbon on 3 May"
    assert importance(vec(1), [0.4], text) == pytest.approx(0.5 * 0.6 + 0.5 * 0.82)


def test_a_new_personal_fact_matters_more_than_a_repeated_pleasantry() -> None:
    fact = importance(vec(1), [0.3], "My daughter Lea starts school on 4 September")
    pleasantry = importance(vec(1), [0.95], "ok thanks")
    assert fact > 0.7 > 0.1 > pleasantry


def test_a_bad_vector_is_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        importance(np.array([np.nan, 1.0]), [], "x")
    with pytest.raises(ValueError, match="non-empty"):
        importance(np.array([]), [], "x")
