"""The ``echo`` trace: what memory did for one request, and why (cognition layer).

Returned to clients next to the completion, so a user or developer can see which memories
shaped the answer, their score components and reasons, which were dropped and why, the
query's feeling, the matched pattern, the token cost, the stage timings, and whether memory
was degraded. Everything in it is plain JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from echoray.cognition.state import Candidate, CognitiveState


def trace(state: CognitiveState) -> dict[str, Any]:
    """The JSON-serialisable ``echo`` object of ``state``."""
    return {
        "session": state.session,
        "memories": [_memory(c) for c in state.selected],
        "dropped": [{"id": memory_id, "reason": reason} for memory_id, reason in state.dropped],
        "query_affect": state.query_affect.as_dict() if state.query_affect else None,
        "pattern": state.pattern.as_dict() if state.pattern else None,
        "context": state.context_text,
        "context_tokens": int(state.context_tokens),
        "budget_tokens": int(state.budget_tokens),
        "stages_ms": {name: round(float(ms), 3) for name, ms in state.timings_ms.items()},
        "degraded": list(state.degraded),
    }


def _memory(candidate: Candidate) -> dict[str, Any]:
    return {
        "id": candidate.id,
        "text": candidate.text,
        "kind": candidate.kind,
        "created_at": candidate.created_at.isoformat(),
        "score": float(candidate.score),
        "components": {name: float(value) for name, value in candidate.components.items()},
        "reasons": list(candidate.reasons),
        "why": _plain(candidate.why),
        "source": candidate.source,
    }


def _plain(value: Any) -> Any:
    """``value`` with numpy values, datetimes, tuples and pydantic models made JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):  # a pydantic model such as the memory layer's ``Why``
        return _plain(value.model_dump())
    return value
