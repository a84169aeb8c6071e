"""The memory graph in RAM: who is linked to whom, per user (memory layer, associations).

Links are undirected: a stored link (src, dst) makes each end a neighbour of the other.
Between two memories joined by links of several kinds, the strongest weight counts.
The ``links`` table in LanceDB is the durable truth; a shard rebuilds this graph from
``LanceDBStore.scan_links`` when it starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from echoray.memory.records import Link

Owner = tuple[str, str]


class LinkGraph:
    """Adjacency of each (tenant, user)'s memories."""

    def __init__(self) -> None:
        self._adjacency: dict[Owner, dict[str, dict[str, float]]] = {}

    def __len__(self) -> int:
        """Undirected edges held."""
        return sum(len(n) for a in self._adjacency.values() for n in a.values()) // 2

    def add(self, links: Iterable[Link]) -> None:
        """Add links (keeping the strongest weight between two memories)."""
        for link in links:
            nodes = self._adjacency.setdefault((link.tenant, link.user), {})
            for a, b in ((link.src, link.dst), (link.dst, link.src)):
                neighbours = nodes.setdefault(a, {})
                neighbours[b] = max(neighbours.get(b, 0.0), float(link.weight))

    def neighbours(self, tenant: str, user: str, memory_id: str) -> list[tuple[str, float]]:
        """The memories linked to one memory, with weights, strongest first."""
        found = self._adjacency.get((tenant, user), {}).get(memory_id, {})
        return sorted(found.items(), key=lambda item: (-item[1], item[0]))

    def remove(self, tenant: str, user: str, ids: Iterable[str]) -> None:
        """Drop memories and every link touching them."""
        nodes = self._adjacency.get((tenant, user))
        if not nodes:
            return
        for memory_id in ids:
            for other in nodes.pop(memory_id, {}):
                nodes.get(other, {}).pop(memory_id, None)
                if other in nodes and not nodes[other]:
                    del nodes[other]

    def remove_user(self, tenant: str, user: str) -> None:
        """Drop one user's whole graph."""
        self._adjacency.pop((tenant, user), None)
