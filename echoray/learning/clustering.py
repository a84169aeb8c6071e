"""Online (leader) clustering of unit vectors (learning layer, pure).

Each vector joins the cluster whose normalised centroid is closest, if within ``cosine``,
or starts a new one. Centroids live in one preallocated matrix, so each assignment is a
single matrix-vector product over the clusters so far.
"""

from __future__ import annotations

import numpy as np


class OnlineClusters:
    """Cluster sums and members (indices in the order vectors were added)."""

    def __init__(self, dimension: int, cosine: float, capacity: int = 64) -> None:
        self.cosine = cosine
        self._sums = np.zeros((capacity, dimension), dtype=np.float32)
        self._centroids = np.zeros((capacity, dimension), dtype=np.float32)
        self.members: list[list[int]] = []

    def __len__(self) -> int:
        return len(self.members)

    def add(self, index: int, vector: np.ndarray) -> int:
        """Assign item ``index`` with ``vector``; returns its cluster."""
        count = len(self.members)
        best = -1
        if count:
            scores = self._centroids[:count] @ vector
            top = int(np.argmax(scores))
            if scores[top] >= self.cosine:
                best = top
        if best < 0:
            if count == len(self._sums):
                self._sums = np.concatenate([self._sums, np.zeros_like(self._sums)])
                self._centroids = np.concatenate([self._centroids, np.zeros_like(self._centroids)])
            best = count
            self.members.append([])
        self.members[best].append(index)
        self._sums[best] += vector
        self._centroids[best] = self._sums[best] / np.linalg.norm(self._sums[best])
        return best

    def centroid(self, cluster: int) -> np.ndarray:
        return self._centroids[cluster].copy()
