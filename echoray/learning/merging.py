"""Merging near-duplicate memories (learning layer, pure).

Memories of one user and one kind whose cosine reaches ``duplicate_cosine`` form a group
(transitively). The oldest becomes the survivor (a pinned one first); it keeps its id and
gains the others' access counts, their strength (combined as 1 - Π(1 - s)), their
sources, and their links; the others move to the archive with the reason
``merged into <id>``.

Idempotent: the survivor's ``metadata["merged"]`` lists the ids already folded in, so a
run that crashed after updating the survivor but before archiving the others, run again,
only finishes the archiving and counts nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from echoray.memory.records import MAX_SOURCES, Link, MemoryRecord

MERGED_KEY = "merged"
_BLOCK = 2048


@dataclass(frozen=True)
class Merge:
    """One group: the updated survivor and the ids folded into it."""

    survivor: MemoryRecord
    merged: list[str]

    @property
    def reason(self) -> str:
        return f"merged into {self.survivor.id}"


def duplicate_groups(records: Sequence[MemoryRecord], cosine: float) -> list[list[int]]:
    """Indices of ``records`` in groups of two or more near-duplicates of the same kind."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_kind: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_kind[record.kind].append(index)
    for indices in by_kind.values():
        if len(indices) < 2:
            continue
        matrix = np.stack([records[i].vector for i in indices]).astype(np.float32)
        for start in range(0, len(indices), _BLOCK):
            scores = matrix[start : start + _BLOCK] @ matrix.T
            rows, cols = np.nonzero(scores >= cosine)
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                a, b = indices[start + row], indices[col]
                if a < b:
                    parent[find(b)] = find(a)
    groups: dict[int, list[int]] = defaultdict(list)
    for index in range(len(records)):
        groups[find(index)].append(index)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def _survivor_first(group: list[MemoryRecord]) -> list[MemoryRecord]:
    return sorted(group, key=lambda r: (not r.pinned, r.created_at, r.id))


def plan_merges(records: Sequence[MemoryRecord], cosine: float) -> list[Merge]:
    """The merges that fold every group of near-duplicates into its survivor. Groups with
    two pinned memories keep the pinned ones apart (a pin is a promise to keep it)."""
    merges = []
    for indices in duplicate_groups(records, cosine):
        ordered = _survivor_first([records[i] for i in indices])
        survivor, others = ordered[0], [r for r in ordered[1:] if not r.pinned]
        if not others:
            continue
        merges.append(Merge(survivor=combine(survivor, others), merged=[r.id for r in others]))
    return merges


def combine(survivor: MemoryRecord, others: Sequence[MemoryRecord]) -> MemoryRecord:
    """The survivor with the others folded in; those already listed in its
    ``metadata["merged"]`` are not counted again."""
    done = set(survivor.metadata.get(MERGED_KEY, []))
    fresh = [r for r in others if r.id not in done]
    if not fresh:
        return survivor
    keep = 1.0 - survivor.strength
    for record in fresh:
        keep *= 1.0 - record.strength
    sources = list(dict.fromkeys([*survivor.sources, *(s for r in fresh for s in r.sources)]))
    used = [r.last_accessed or r.created_at for r in (survivor, *fresh)]
    return survivor.model_copy(
        update={
            "access_count": survivor.access_count + sum(r.access_count for r in fresh),
            "strength": min(1.0, 1.0 - keep),
            "importance": max(r.importance for r in (survivor, *fresh)),
            "last_accessed": max(used),
            "sources": sources[:MAX_SOURCES],
            "metadata": {
                **survivor.metadata,
                MERGED_KEY: sorted(done | {r.id for r in fresh}),
            },
        }
    )


def moved_links(merge: Merge, links: Sequence[Link]) -> list[Link]:
    """The links of the merged memories, re-pointed at the survivor (loops and links
    between members of the group dropped)."""
    members = {merge.survivor.id, *merge.merged}
    moved: dict[tuple[str, str, str], Link] = {}
    for link in links:
        ends = {link.src, link.dst}
        if not ends & set(merge.merged):
            continue
        other = (ends - members) or None
        if other is None:
            continue
        (far,) = other
        src, dst = sorted((merge.survivor.id, far))
        key = (src, dst, link.kind)
        if key not in moved or moved[key].weight < link.weight:
            moved[key] = link.model_copy(update={"src": src, "dst": dst})
    return list(moved.values())
