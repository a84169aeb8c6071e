"""A deterministic hashed bag of words: an embedder for tests and overhead benchmarks."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from echoray.embeddings import MINILM_DIMENSION

_WORD = re.compile(r"\w+", re.UNICODE)


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
