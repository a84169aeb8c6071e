"""Resonance tuning: one score per recalled memory (cognition layer).

Retrieval relevance alone ranks a stale, weak, trivial memory as high as a fresh, strong,
important one that matches equally well. Resonance mixes five components, each in [0, 1],
with weights from the configuration (``ResonanceWeightsConfig``):

- relevance: the retrieval relevance the recall gave the memory;
- recency: ``0.5 ** (age / half_life)``, age since last access (or creation);
- importance: given when the memory was written (see ``importance``);
- affect: congruence of the memory's feeling with the query's (0.5 when the query's is
  unknown, so an unknown mood neither helps nor hurts any memory against another);
- strength: raised by positive feedback and use, lowered by forgetting.
"""

from __future__ import annotations

from datetime import datetime

from echoray.cognition.affect import congruence
from echoray.cognition.state import CognitiveState, by_score
from echoray.config import ResonanceWeightsConfig

ResonanceWeights = ResonanceWeightsConfig

# The affect component when the query's feeling is unknown: the same for every memory.
NEUTRAL_AFFECT = 0.5


def recency(created_or_accessed: datetime, now: datetime, half_life_s: float) -> float:
    """``0.5 ** (age / half_life_s)``: 1 now, 0.5 one half-life ago; 1 for future times.

    Raises:
        ValueError: ``half_life_s`` is not positive.
    """
    if half_life_s <= 0:
        raise ValueError("half_life_s must be positive")
    # Clock skew between writers may put a timestamp slightly in the future: treat as now.
    age_s = max(0.0, (now - created_or_accessed).total_seconds())
    return float(0.5 ** (age_s / half_life_s))


def resonate(state: CognitiveState, weights: ResonanceWeights, half_life_s: float) -> None:
    """Stage: fill every candidate's ``components`` and ``score``, then sort by score.

    The score is the weighted sum of the components; candidates are sorted by it,
    highest first, ties by id.
    """
    for candidate in state.candidates:
        affect = (
            NEUTRAL_AFFECT
            if state.query_affect is None
            else congruence(candidate.affect, state.query_affect)
        )
        components = {
            "relevance": _unit(candidate.relevance),
            "recency": recency(
                candidate.last_accessed or candidate.created_at, state.now, half_life_s
            ),
            "importance": _unit(candidate.importance),
            "affect": affect,
            "strength": _unit(candidate.strength),
        }
        candidate.components.update(components)
        candidate.score = sum(getattr(weights, name) * value for name, value in components.items())
    state.candidates.sort(key=by_score)


def _unit(value: float) -> float:
    # Components are in [0, 1] by contract; clip so one bad value cannot dominate a sum.
    return min(1.0, max(0.0, float(value)))
