"""Reflections: a summary memory over a cluster of related episodic memories (learning
layer, pure).

Episodic memories not yet covered by a reflection are clustered online in time order
(each joins the closest cluster whose centroid is within ``reflection_cosine``, or starts
one). Each cluster of at least ``reflection_min_memories`` gets a ``reflection`` memory:
its vector is the normalised centroid, its sources and ``source`` links are the members,
and its text is extractive (the sentences of the most central members) unless a model
writes it. Its id is a hash of its members, and covered memories are never clustered
again, so running twice writes nothing new.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from echoray.learning.clustering import OnlineClusters
from echoray.memory.records import MAX_SOURCES, Link, MemoryRecord

REFLECTION_PREFIX = "refl-"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_MAX_CHARS = 2000


@dataclass(frozen=True)
class Cluster:
    """Members of one cluster, most central first, and their normalised centroid."""

    members: list[MemoryRecord]
    centroid: np.ndarray


def covered_ids(records: Sequence[MemoryRecord]) -> set[str]:
    """Ids already summarised by one of the reflections among ``records``."""
    return {s for r in records if r.kind == "reflection" for s in r.sources}


def clusters(records: Sequence[MemoryRecord], cosine: float, min_members: int) -> list[Cluster]:
    """Online clustering of the uncovered episodic memories among ``records``."""
    covered = covered_ids(records)
    pool = sorted(
        (r for r in records if r.kind == "episodic" and r.id not in covered),
        key=lambda r: (r.created_at, r.id),
    )
    online = OnlineClusters(pool[0].vector.shape[0] if pool else 1, cosine)
    for index, record in enumerate(pool):
        online.add(index, record.vector)
    found = []
    for cluster, indices in enumerate(online.members):
        if len(indices) < min_members:
            continue
        centroid = online.centroid(cluster)
        group = [pool[i] for i in indices]
        central = sorted(group, key=lambda r: (-float(r.vector @ centroid), r.id))
        found.append(Cluster(members=central[:MAX_SOURCES], centroid=centroid))
    return found


def extractive_summary(cluster: Cluster, sentences: int) -> str:
    """The first sentence of each of the ``sentences`` most central members."""
    picked: list[str] = []
    for member in cluster.members:
        first = _SENTENCE.split(member.text.strip(), maxsplit=1)[0].strip()
        if first and first not in picked:
            picked.append(first)
        if len(picked) == sentences:
            break
    return " ".join(picked)[:_MAX_CHARS]


def reflection_id(cluster: Cluster) -> str:
    digest = hashlib.sha256("\n".join(sorted(m.id for m in cluster.members)).encode())
    return REFLECTION_PREFIX + digest.hexdigest()[:32]


def reflection_record(cluster: Cluster, text: str, now: datetime) -> MemoryRecord:
    """The reflection memory of ``cluster`` with ``text`` (id derived from its members)."""
    first = cluster.members[0]
    return MemoryRecord.build(
        id=reflection_id(cluster),
        tenant=first.tenant,
        user=first.user,
        kind="reflection",
        text=text[:_MAX_CHARS] or first.text[:_MAX_CHARS],
        vector=cluster.centroid,
        created_at=now,
        importance=max(m.importance for m in cluster.members),
        valence=float(np.mean([m.valence for m in cluster.members])),
        arousal=float(np.mean([m.arousal for m in cluster.members])),
        dominance=float(np.mean([m.dominance for m in cluster.members])),
        sources=[m.id for m in cluster.members],
        metadata={"reflection_of": len(cluster.members)},
    )


def source_links(reflection: MemoryRecord, cluster: Cluster) -> list[Link]:
    """``source`` links from the reflection to each member, weighted by closeness."""
    links = []
    for member in cluster.members:
        src, dst = sorted((reflection.id, member.id))
        weight = float(min(1.0, max(0.0, member.vector @ cluster.centroid)))
        links.append(
            Link.build(
                tenant=reflection.tenant,
                user=reflection.user,
                src=src,
                dst=dst,
                kind="source",
                weight=weight,
            )
        )
    return links


def summary_prompt(cluster: Cluster) -> str:
    """What a model is asked, when it writes the reflection."""
    lines = "\n".join(f"- {m.text[:400]}" for m in cluster.members[:12])
    return (
        "These are things a user said or was told. Write one or two sentences that sum "
        f"up what they have in common, as a note about the user.\n{lines}\nNote:"
    )
