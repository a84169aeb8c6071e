"""Recall: ranking, spreading activation and link rules (memory layer, pure logic).

``recall`` answers a query from a ``WorkingSet`` and a ``LinkGraph``:

1. ``rank.rank_candidates`` scores the memories that pass the filter: the standardised
   cosine plus the weighted, standardised BM25 score, with the speaker, time and period
   boosts and the previous-turn and session lifts (``rank_weights`` reads them from the
   config);
2. associative recall, when ``association_max_added`` allows it (off by default):
   activation spreads from the hits over links for 1 or 2 hops, multiplied at each hop by
   ``decay`` times the link weight; a linked memory that passes the same filter competes
   for a place with score equal to its activation, and carries the path it was reached by.

``reciprocal_rank_fusion`` serves the LanceDB path beyond the RAM budget, whose indexes
give ranks rather than comparable scores. Every hit says why it is there (``Why``).

Links are made by pure rules at write time: ``temporal_links`` joins memories of one
session written within a window, ``neighbour_links`` joins a new memory to its nearest
neighbours at or above a cosine threshold.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from echoray.config import MemoryConfig
from echoray.memory.candidates import rank_candidates
from echoray.memory.graph import LinkGraph
from echoray.memory.query import plan_query
from echoray.memory.rank import RankWeights
from echoray.memory.records import Link, MemoryFilter, MemoryRecord, SearchHit, Why
from echoray.memory.working_set import WorkingSet

# Each list is searched this many times deeper than ``limit`` before fusion, so a memory
# ranked modestly in both lists can still win.
_DEPTH_FACTOR = 3
_MIN_DEPTH = 20
# Associative recall spreads over each memory's strongest links only, and only from the
# most activated memories of a hop: a memory linked to hundreds of others (the neighbour
# rule links each new memory to its nearest) cannot make a search slow.
ASSOCIATION_FANOUT = 8
ASSOCIATION_BEAM = 16


@dataclass(frozen=True)
class Fused:
    """One id after fusion: its score and its 1-based rank in each input list (or None)."""

    id: str
    score: float
    ranks: tuple[int | None, ...]


@dataclass(frozen=True)
class Activation:
    """A memory reached over links: its activation and the path from a seed to it."""

    id: str
    activation: float
    path: tuple[str, ...]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60, weights: Sequence[float] | None = None
) -> list[Fused]:
    """Fuse rankings (ids, best first) by weighted reciprocal rank, best first: an id
    scores ``sum(weight_i / (k + rank_i))`` over the lists it appears in.

    Ties are broken by the best single rank, then by id, so the order is deterministic.
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    ranks: dict[str, list[int | None]] = {}
    for position, ranking in enumerate(rankings):
        for rank, item in enumerate(ranking, start=1):
            slots = ranks.setdefault(item, [None] * len(rankings))
            if slots[position] is None:  # an id repeated in one list counts once
                slots[position] = rank
    fused = [
        Fused(
            item,
            sum(w / (k + r) for w, r in zip(weights, slots, strict=True) if r is not None),
            tuple(slots),
        )
        for item, slots in ranks.items()
    ]
    fused.sort(key=lambda f: (-f.score, min(r for r in f.ranks if r is not None), f.id))
    return fused


def spread_activation(
    seeds: Mapping[str, float],
    neighbours: Callable[[str], Iterable[tuple[str, float]]],
    *,
    hops: int = 2,
    decay: float = 0.5,
    min_activation: float = 0.0,
    fanout: int | None = None,
    beam: int | None = None,
) -> dict[str, Activation]:
    """Spread activation from ``seeds`` over weighted links, hop by hop.

    A memory's activation is the best over paths of ``seed * prod(decay * weight)``; paths
    of at most ``hops`` links, none back to a seed, none below ``min_activation``. To bound
    the work on densely linked memories, each node spreads over at most its ``fanout``
    strongest links (``neighbours`` gives them strongest first) and only the ``beam`` most
    activated nodes of a hop spread further (None: no bound).

    Returns:
        The memories reached (seeds excluded), by id.
    """
    reached: dict[str, Activation] = {}
    frontier = {seed: Activation(seed, value, (seed,)) for seed, value in seeds.items()}
    for _ in range(hops):
        improved: dict[str, Activation] = {}
        for node in frontier.values():
            for other, weight in itertools.islice(neighbours(node.id), fanout):
                value = node.activation * decay * weight
                if other in seeds or other in node.path or value < min_activation or value <= 0:
                    continue
                best = improved.get(other) or reached.get(other)
                if best is None or value > best.activation:
                    improved[other] = Activation(other, value, (*node.path, other))
        reached.update(improved)
        frontier = improved
        if beam is not None and len(frontier) > beam:
            strongest = sorted(frontier.values(), key=lambda a: (-a.activation, a.id))[:beam]
            frontier = {a.id: a for a in strongest}
        if not frontier:
            break
    return reached


def rank_weights(config: MemoryConfig) -> RankWeights:
    """The ranking weights of a memory config."""
    return RankWeights(
        lexical=config.lexical_weight,
        speaker=config.speaker_boost,
        time=config.time_boost,
        period=config.period_boost,
        neighbour=config.previous_turn_lift,
        session=config.session_lift,
    )


def recall(
    working_set: WorkingSet,
    graph: LinkGraph | None,
    *,
    tenant: str,
    flt: MemoryFilter,
    query_vector: np.ndarray,
    query_text: str | None,
    limit: int,
    config: MemoryConfig,
) -> list[SearchHit]:
    """The ``limit`` best memories for a query, each with its score and why.

    Raises:
        UnprocessableEntityError: the query vector has the wrong dimension.
    """
    vector = working_set.unit_query(query_vector)
    if vector is None or limit <= 0:
        return []
    plan = plan_query(query_text or "", working_set.speakers(tenant, flt.user))
    ranked = rank_candidates(
        working_set,
        tenant,
        flt,
        vector,
        plan,
        depth=max(limit * _DEPTH_FACTOR, _MIN_DEPTH),
        weights=rank_weights(config),
        period_slack=timedelta(days=config.period_slack_days),
    )
    hits = [working_set.hit(tenant, flt.user, r.id, r.score, r.why) for r in ranked[:limit]]
    if graph is None or not hits or config.association_hops == 0:
        return hits
    if config.association_max_added == 0:
        return hits
    seeds = {hit.id: hit.score for hit in hits}
    reached = spread_activation(
        seeds,
        lambda memory_id: graph.neighbours(tenant, flt.user, memory_id),
        hops=config.association_hops,
        decay=config.association_decay,
        min_activation=config.association_min_activation * hits[0].score,
        fanout=ASSOCIATION_FANOUT,
        beam=max(ASSOCIATION_BEAM, config.association_max_added),
    )
    allowed = working_set.allowed_ids(tenant, flt, reached)
    linked = sorted(
        (a for a in reached.values() if a.id in allowed),
        key=lambda a: (-a.activation, a.id),
    )[: config.association_max_added]
    # A linked memory may also have ranked below ``limit`` on its own: keep both reasons.
    below = {r.id: r for r in ranked[limit:]}
    for a in linked:
        own = below.get(a.id)
        why = Why(
            dense_rank=own.dense_rank if own else None,
            lexical_rank=own.lexical_rank if own else None,
            link_path=list(a.path),
        )
        score = max(a.activation, own.score if own else 0.0)
        hits.append(working_set.hit(tenant, flt.user, a.id, score, why))
    hits.sort(key=lambda hit: -hit.score)  # stable: direct hits stay ahead on ties
    return hits[:limit]


# --- link rules ------------------------------------------------------------------------


def make_link(tenant: str, user: str, a: str, b: str, kind: str, weight: float) -> Link:
    """An undirected link, its ends in a canonical order so it is stored once."""
    src, dst = sorted((a, b))
    return Link.build(
        tenant=tenant,
        user=user,
        src=src,
        dst=dst,
        kind=kind,
        weight=float(min(1.0, max(0.0, weight))),
    )


def temporal_links(
    new: Sequence[MemoryRecord], recent: Sequence[MemoryRecord], window_s: float
) -> list[Link]:
    """Links between memories of one user and session written within ``window_s``.

    Each new memory is linked to the recent ones and to the new ones before it. The
    weight falls from 1 (same instant) to 0.5 (``window_s`` apart).
    """
    links: list[Link] = []
    for index, record in enumerate(new):
        if record.session is None:
            continue
        for other in [*recent, *new[:index]]:
            if (other.tenant, other.user, other.session) != (
                record.tenant,
                record.user,
                record.session,
            ) or other.id == record.id:
                continue
            gap = abs((record.created_at - other.created_at).total_seconds())
            if gap <= window_s:
                weight = 1.0 - 0.5 * (gap / window_s if window_s > 0 else 0.0)
                links.append(
                    make_link(record.tenant, record.user, record.id, other.id, "temporal", weight)
                )
    return links


def neighbour_links(
    record: MemoryRecord, neighbours: Sequence[tuple[str, float]], threshold: float, top_k: int
) -> list[Link]:
    """Links from a new memory to its nearest neighbours with cosine >= ``threshold``.

    Args:
        record: the new memory.
        neighbours: (id, cosine) of memories of the same user, best first (as
            ``WorkingSet.dense_search`` gives them).
        threshold: the lowest cosine that makes a link; it becomes the link's weight.
        top_k: how many of the nearest are considered.
    """
    candidates = [(i, cos) for i, cos in neighbours if i != record.id][:top_k]
    return [
        make_link(record.tenant, record.user, record.id, other, "neighbour", cos)
        for other, cos in candidates
        if cos >= threshold
    ]
