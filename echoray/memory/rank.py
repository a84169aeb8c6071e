"""Scoring recall candidates from the signals a memory store has (memory layer, pure numpy).

The score of a candidate memory, in order:

1. **fusion**: ``z(dense) + lexical_weight * z(bm25)``, each standardised over all the
   memories the search may return, so the two scales meet without a rank cut (a memory 4
   standard deviations above the rest by BM25 is a strong match whatever the cosines are);
2. **boosts**: ``+ speaker`` when said by a speaker the query names, ``+ time`` when the
   query asks "when" and the memory says when, ``+ period`` when the query names a period
   and the memory was written in it (or within the slack after it);
3. **the previous turn**: ``s += neighbour * max(s_prev - s, 0)``, ``s_prev`` the score of
   the turn before it in its session: an answer follows its question, and the answer turn
   often shares no words with the query ("Where did you go?" - "To the lake.");
4. **the session**: ``s += session * mean(top-2 scores in the session)``: a session in
   which several turns match is about the query (best turns, not the mean of all, score
   a session).

Every function is pure over numpy arrays indexed by candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SESSION_TOP = 2  # turns whose mean scores a session


@dataclass(frozen=True)
class RankWeights:
    """How much each signal counts; ``MemoryConfig`` holds the defaults."""

    lexical: float = 0.5
    speaker: float = 1.0
    time: float = 0.5
    period: float = 1.0
    neighbour: float = 0.5
    session: float = 0.1


@dataclass(frozen=True)
class Signals:
    """What is known of each candidate, one array entry per candidate."""

    dense: np.ndarray  # cosine with the query
    lexical: np.ndarray  # BM25 score (0 without a query term)
    by_named_speaker: np.ndarray  # bool
    says_when: np.ndarray  # bool: the text mentions a time (used when the query asks one)
    in_period: np.ndarray  # bool: written in the period the query names
    previous: np.ndarray  # index of the turn before it in its session, or -1
    session: np.ndarray  # session code (-1: none)


def standardise(values: np.ndarray, mean: float, std: float) -> np.ndarray:
    """``(values - mean) / std``; all zeros when ``std`` is 0 (the signal tells nothing)."""
    if std <= 0 or not np.isfinite(std):
        return np.zeros(len(values), dtype=np.float64)
    return (np.asarray(values, dtype=np.float64) - mean) / std


def moments(values: np.ndarray, count: int) -> tuple[float, float]:
    """Mean and standard deviation of ``count`` values of which ``values`` are the non-zero
    ones (BM25 scores every memory without a query term 0)."""
    if count <= 0:
        return 0.0, 0.0
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.sum()) / count
    variance = max(float(np.square(values).sum()) / count - mean * mean, 0.0)
    return mean, variance**0.5


def lift_from_previous(scores: np.ndarray, previous: np.ndarray, weight: float) -> np.ndarray:
    """``s + weight * max(s_prev - s, 0)`` where a candidate has a previous turn (>= 0)."""
    lifted = np.array(scores, dtype=np.float64)
    if weight == 0 or len(scores) == 0:
        return lifted
    has = previous >= 0
    gain = np.zeros(len(scores))
    gain[has] = np.maximum(lifted[previous[has]] - lifted[has], 0.0)
    return lifted + weight * gain


def lift_by_session(scores: np.ndarray, session: np.ndarray, weight: float) -> np.ndarray:
    """``s + weight * mean(top-2 scores of the candidate's session)`` (its one score when the
    session has one candidate); no lift without a session (code < 0)."""
    lifted = np.array(scores, dtype=np.float64)
    if weight == 0 or len(scores) == 0:
        return lifted
    order = np.lexsort((-lifted, session))  # by session, best score first within it
    ordered_session, ordered = session[order], lifted[order]
    starts = np.flatnonzero(np.r_[True, ordered_session[1:] != ordered_session[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    second = np.where(sizes >= SESSION_TOP, ordered[np.minimum(starts + 1, len(order) - 1)], 0.0)
    top_mean = np.where(sizes >= SESSION_TOP, (ordered[starts] + second) / 2, ordered[starts])
    gain = np.repeat(top_mean, sizes)
    gain[ordered_session < 0] = 0.0
    lifted[order] += weight * gain
    return lifted


def score(
    signals: Signals,
    weights: RankWeights,
    *,
    dense_moments: tuple[float, float],
    lexical_moments: tuple[float, float],
    asks_when: bool,
) -> np.ndarray:
    """The final score of every candidate (higher is better); see the module docstring."""
    fused = standardise(signals.dense, *dense_moments)
    if weights.lexical:
        fused = fused + weights.lexical * standardise(signals.lexical, *lexical_moments)
    fused = fused + weights.speaker * signals.by_named_speaker
    if asks_when:
        fused = fused + weights.time * signals.says_when
    fused = fused + weights.period * signals.in_period
    fused = lift_from_previous(fused, signals.previous, weights.neighbour)
    return lift_by_session(fused, signals.session, weights.session)
