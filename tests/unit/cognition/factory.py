"""Small builders for cognition tests: candidates and states with readable defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from echoray.cognition.state import Candidate, CognitiveState

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
DIM = 8


def vec(*weights: float) -> np.ndarray:
    """A unit float32 vector of length DIM from its leading components."""
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)


def at_cosine(cosine: float, base: int = 0, other: int = 1) -> np.ndarray:
    """A unit vector whose cosine to axis ``base`` is ``cosine`` (the rest on ``other``)."""
    v = np.zeros(DIM, dtype=np.float32)
    v[base] = cosine
    v[other] = np.sqrt(1 - cosine**2)
    return v


def candidate(memory_id: str, **fields: Any) -> Candidate:
    values: dict[str, Any] = {
        "id": memory_id,
        "text": f"memory {memory_id}",
        "kind": "episodic",
        "session": None,
        "created_at": NOW,
        "last_accessed": None,
        "access_count": 0,
        "importance": 0.5,
        "strength": 1.0,
        "valence": 0.0,
        "arousal": 0.5,
        "dominance": 0.5,
        "vector": vec(1),
        "relevance": 0.5,
        "source": "long_term",
        "why": {"dense_rank": 1},
    }
    values.update(fields)
    return Candidate(**values)


def state(**fields: Any) -> CognitiveState:
    values: dict[str, Any] = {
        "tenant": "acme",
        "user": "nadia",
        "session": "s1",
        "messages": [{"role": "user", "content": "what should I practise today?"}],
        "budget_tokens": 512,
        "max_tokens": 256,
        "context_window": 4096,
        "now": NOW,
    }
    values.update(fields)
    return CognitiveState(**values)
