"""Reciprocal-rank fusion of the dense and BM25 baselines: the third baseline retriever.

Each query takes the top ``depth`` (100) of ``DenseRetriever`` and of ``BM25Retriever`` and
fuses them with ``sum(1 / (k + rank))``, k = 60, the plain hybrid a user would build first.
"""

from __future__ import annotations

from collections.abc import Sequence

from echoray.evaluation.bm25 import BM25Retriever
from echoray.evaluation.dense import DenseRetriever, load_minilm
from echoray.evaluation.locomo import Memory
from echoray.memory.recall import reciprocal_rank_fusion

RRF_K = 60
DEPTH = 100


class RRFRetriever:
    """Retriever protocol: dense and BM25 rankings fused by reciprocal rank."""

    name = "rrf"

    def __init__(
        self, dense: DenseRetriever, bm25: BM25Retriever, k: int = RRF_K, depth: int = DEPTH
    ) -> None:
        self._dense = dense
        self._bm25 = bm25
        self.k = k
        self.depth = depth

    @property
    def device(self) -> str:
        return self._dense.device

    def index(self, memories: Sequence[Memory]) -> None:
        self._dense.index(memories)
        self._bm25.index(memories)

    def search(self, query: str, k: int) -> list[str]:
        rankings = [self._dense.search(query, self.depth), self._bm25.search(query, self.depth)]
        return [fused.id for fused in reciprocal_rank_fusion(rankings, self.k)[:k]]


def make_rrf_retriever() -> RRFRetriever:
    """Factory for the retriever registry: loads MiniLM (a few seconds on CPU)."""
    return RRFRetriever(DenseRetriever(load_minilm()), BM25Retriever())
