"""Recall candidates from the working set, scored by ``rank`` (memory layer, search).

The candidates of a query are the ``depth`` best memories by cosine, the ``depth`` best by
BM25, and the turn before each of them in its session (its score lifts the turn after it).
Their signals are read from the working set's row arrays in one pass; ``rank.score`` does
the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from echoray.memory.lexical import top_with_ties
from echoray.memory.query import QueryPlan
from echoray.memory.rank import RankWeights, Signals, moments, score
from echoray.memory.records import MemoryFilter, Why
from echoray.memory.safe import to_micros
from echoray.memory.working_set import WorkingSet


@dataclass(frozen=True)
class Scored:
    """One candidate: its id, final score and its 1-based rank by cosine and by BM25 among
    the candidates each list brought (None: not brought by that list)."""

    id: str
    score: float
    dense_rank: int | None
    lexical_rank: int | None

    @property
    def why(self) -> Why:
        return Why(dense_rank=self.dense_rank, lexical_rank=self.lexical_rank)


def _ranks(rows: np.ndarray, scores: np.ndarray) -> dict[int, int]:
    order = sorted(range(len(rows)), key=lambda i: -float(scores[i]))
    return {int(rows[i]): rank for rank, i in enumerate(order, start=1)}


def _position_of(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each of ``wanted``, its index in the sorted unique ``values``, or -1."""
    if len(values) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(values, wanted), len(values) - 1)
    return np.where(values[at] == wanted, at, -1)


def rank_candidates(
    working_set: WorkingSet,
    tenant: str,
    flt: MemoryFilter,
    query: np.ndarray,
    plan: QueryPlan,
    *,
    depth: int,
    weights: RankWeights,
    period_slack: timedelta,
) -> list[Scored]:
    """Every candidate of the query, best first (equal scores in id order).

    Args:
        query: the query vector, unit length (``WorkingSet.unit_query``).
    """
    rows = working_set.search_rows(tenant, flt)
    if len(rows) == 0:
        return []
    dense_rows, dense_top, dense_moments = working_set.dense_scan(rows, query, depth)
    lexical_rows, lexical_all = working_set.lexical_scores(
        tenant, flt.user, rows, plan.lexical_terms
    )
    lexical_pick = top_with_ties(lexical_all, depth)
    lexical_moments = moments(lexical_all, len(rows))
    first = np.union1d(dense_rows, lexical_rows[lexical_pick])
    before = working_set.previous_rows(tenant, flt.user, first)
    # The turn before a candidate counts only if the filter lets the search return it.
    before = before[np.isin(before, rows)]
    candidates = np.union1d(first, before)

    lexical = np.zeros(len(candidates), dtype=np.float64)
    if len(lexical_rows):
        by_lexical = np.argsort(lexical_rows)
        where = _position_of(lexical_rows[by_lexical], candidates)
        lexical[where >= 0] = lexical_all[by_lexical][where[where >= 0]]
    previous = _position_of(candidates, working_set.previous_rows(tenant, flt.user, candidates))
    fields = working_set.row_fields(candidates)
    speakers = fields["speaker"]
    everyone = working_set.speakers(tenant, flt.user)
    named = plan.named_speakers
    # Naming every speaker (or no one) says nothing about whose turn answers.
    lift_named = bool(named) and len(named) < len(everyone)
    in_period = np.zeros(len(candidates), dtype=bool)
    if plan.period is not None:
        start, end = to_micros(plan.period.start), to_micros(plan.period.end + period_slack)
        in_period = (fields["created"] >= start) & (fields["created"] < end)
    signals = Signals(
        dense=working_set.dense_scores(candidates, query),
        lexical=lexical,
        by_named_speaker=np.array([lift_named and s in named for s in speakers], dtype=bool),
        says_when=fields["says_when"],
        in_period=in_period,
        previous=previous,
        session=fields["session"].astype(np.int64),
    )
    final = score(
        signals,
        weights,
        dense_moments=dense_moments,
        lexical_moments=lexical_moments,
        asks_when=plan.asks_when,
    )
    dense_rank = _ranks(dense_rows, dense_top)
    lexical_rank = _ranks(lexical_rows[lexical_pick], lexical_all[lexical_pick])
    ids = fields["id"]
    scored = [
        Scored(ids[i], float(final[i]), dense_rank.get(int(row)), lexical_rank.get(int(row)))
        for i, row in enumerate(candidates)
    ]
    scored.sort(key=lambda s: (-s.score, s.id))
    return scored
