"""Pattern learning: online clustering of a user's requests (learning layer, pure).

Each experience's query vector (the episodic memory capture wrote for it, found by its
sources) joins the closest pattern within ``pattern_cosine`` or starts a new one, in time
order; the centroid is the running mean. A pattern's strength is count / (count + 3), so
a request seen once is a weak pattern and one seen often a strong one; its label is the
query closest to the centroid. Patterns are recomputed from the experiences each run, with
ids taken from their first experience, so a run is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from echoray.learning.clustering import OnlineClusters
from echoray.memory.records import Experience, MemoryRecord, Pattern

PATTERN_PREFIX = "pat-"
_STRENGTH_HALF = 3  # the count at which a pattern's strength is 0.5
_LABEL_CHARS = 120


def query_vectors(
    experiences: Sequence[Experience], memories: Sequence[MemoryRecord]
) -> dict[str, np.ndarray]:
    """Experience id -> the vector of the memory that records its query (via sources;
    a merged survivor carries the sources of every duplicate)."""
    by_source: dict[str, np.ndarray] = {}
    for memory in memories:
        for source in memory.sources:
            by_source.setdefault(source, memory.vector)
    return {e.id: by_source[e.id] for e in experiences if e.id in by_source}


def learn_patterns(
    experiences: Sequence[Experience],
    vectors: Mapping[str, np.ndarray],
    *,
    cosine: float,
    max_patterns: int,
    now: datetime,
) -> list[Pattern]:
    """The user's patterns, strongest first (at most ``max_patterns``)."""
    ordered = sorted(
        (e for e in experiences if e.id in vectors), key=lambda e: (e.created_at, e.id)
    )
    if not ordered:
        return []
    online = OnlineClusters(len(vectors[ordered[0].id]), cosine)
    for index, experience in enumerate(ordered):
        online.add(index, np.asarray(vectors[experience.id], dtype=np.float32))
    patterns = []
    for cluster, indices in enumerate(online.members):
        centroid = online.centroid(cluster)
        group = [ordered[i] for i in indices]
        label = max(group, key=lambda e: float(vectors[e.id] @ centroid)).query
        count = len(group)
        first = group[0]
        patterns.append(
            Pattern.build(
                id=PATTERN_PREFIX + hashlib.sha256(first.id.encode()).hexdigest()[:32],
                tenant=first.tenant,
                user=first.user,
                centroid=centroid,
                count=count,
                strength=count / (count + _STRENGTH_HALF),
                label=label[:_LABEL_CHARS],
                updated_at=now,
            )
        )
    patterns.sort(key=lambda p: (-p.count, p.id))
    return patterns[:max_patterns]
