"""Goal alignment: memories that serve the user's stated goals rank higher (cognition layer).

A request may name goals ("learn cello", "run a marathon in May"); the serving layer
embeds them into ``state.goal_vectors``, one unit row per goal. A memory's ``goal``
component is its best cosine to any goal (0 if all are negative) and adds ``boost`` times
that to its score, so a memory unrelated to every goal keeps its resonance score.
"""

from __future__ import annotations

import numpy as np

from echoray.cognition.state import Candidate, CognitiveState, by_score

# Cosine from which a memory is said to serve a goal (in its reasons). With
# all-MiniLM-L6-v2, texts on the same topic mostly score above it, unrelated ones below.
SERVES_GOAL_COSINE = 0.4


def align_goals(
    state: CognitiveState, boost: float, *, serves_cosine: float = SERVES_GOAL_COSINE
) -> None:
    """Stage: add the ``goal`` component and ``boost * goal`` to every candidate's score.

    Affects ``state.candidates`` and, if a selection was already made, ``state.selected``
    (both re-sorted by score); a no-op without goal vectors.

    Raises:
        ValueError: the number of goal vectors differs from the number of goals.
    """
    if state.goal_vectors is None or len(state.goal_vectors) == 0:
        return
    goals = np.asarray(state.goal_vectors, dtype=np.float32)
    if goals.ndim != 2 or len(goals) != len(state.goals):
        raise ValueError(f"{len(state.goals)} goals but goal vectors of shape {goals.shape}")
    # The selection holds the same objects as the candidates; boost each one once.
    unique: dict[int, Candidate] = {id(c): c for c in [*state.candidates, *state.selected]}
    if not unique:
        return
    members = list(unique.values())
    cosines = np.stack([c.vector for c in members]).astype(np.float32) @ goals.T
    for candidate, row in zip(members, cosines, strict=True):
        best = int(np.argmax(row))
        value = max(0.0, float(row[best]))
        candidate.components["goal"] = value
        candidate.score += boost * value
        if value >= serves_cosine:
            candidate.reasons.append(f"serves goal: {state.goals[best]}")
    state.candidates.sort(key=by_score)
    state.selected.sort(key=by_score)
