"""The one state object every cognitive stage reads and writes (cognition layer).

A request's ``CognitiveState`` starts with what the client sent (messages, goals, token
limits) and is filled stage by stage: the query and its vector, its emotional coloring, the
recalled ``Candidate`` memories with their scores, what was dropped and why, the memories
selected for the context, and the messages actually sent to the model. Keeping it all in
one place is what makes each stage testable alone and the whole request traceable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from echoray.memory.records import MemoryRecord

Message = dict[str, str]


@dataclass(frozen=True)
class Affect:
    """An emotional coloring: valence in [-1, 1], arousal and dominance in [0, 1]."""

    valence: float
    arousal: float
    dominance: float

    def as_dict(self) -> dict[str, float]:
        """Plain floats by axis name."""
        return {
            "valence": float(self.valence),
            "arousal": float(self.arousal),
            "dominance": float(self.dominance),
        }


@dataclass(frozen=True)
class PatternMatch:
    """The learned request pattern the query matched, if any, and how sure the match is."""

    pattern_id: str | None
    label: str | None
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"id": self.pattern_id, "label": self.label, "confidence": float(self.confidence)}


# eq=False: the generated __eq__ would compare numpy vectors element-wise and fail; two
# candidates are the same object or different ones.
@dataclass(kw_only=True, eq=False)
class Candidate:
    """One recalled memory on its way to (or out of) the context."""

    id: str
    text: str
    kind: str
    session: str | None
    created_at: datetime
    last_accessed: datetime | None
    access_count: int
    importance: float
    strength: float
    valence: float
    arousal: float
    dominance: float
    vector: np.ndarray
    relevance: float
    source: str
    why: dict[str, Any]
    components: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    @property
    def affect(self) -> Affect:
        """The memory's stored emotional coloring."""
        return Affect(self.valence, self.arousal, self.dominance)

    @classmethod
    def from_record(
        cls,
        record: MemoryRecord,
        *,
        relevance: float,
        source: str,
        why: dict[str, Any] | None = None,
    ) -> Candidate:
        """A candidate from a stored memory and the relevance its recall gave it."""
        return cls(
            id=record.id,
            text=record.text,
            kind=record.kind,
            session=record.session,
            created_at=record.created_at,
            last_accessed=record.last_accessed,
            access_count=record.access_count,
            importance=record.importance,
            strength=record.strength,
            valence=record.valence,
            arousal=record.arousal,
            dominance=record.dominance,
            vector=record.vector,
            relevance=relevance,
            source=source,
            why=dict(why or {}),
        )


@dataclass(kw_only=True, eq=False)
class CognitiveState:
    """One request's inputs and everything the stages derive from them."""

    # inputs
    tenant: str
    user: str
    session: str | None
    messages: list[Message]
    goals: list[str] = field(default_factory=list)
    budget_tokens: int
    max_tokens: int
    context_window: int
    now: datetime
    # filled by stages
    query: str = ""
    query_vector: np.ndarray | None = None
    goal_vectors: np.ndarray | None = None
    query_affect: Affect | None = None
    pattern: PatternMatch | None = None
    recent_turns: list[Message] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    selected: list[Candidate] = field(default_factory=list)
    context_text: str = ""
    context_tokens: int = 0
    messages_out: list[Message] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)

    def drop(self, candidate: Candidate, reason: str) -> None:
        """Record that ``candidate`` left the running, and why."""
        self.dropped.append((candidate.id, reason))


def last_user_turn(messages: list[Message]) -> str:
    """The content of the last message with role ``user``: what memory is recalled for.

    Raises:
        ValueError: no message has role ``user``.
    """
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content", "")
    raise ValueError("the messages hold no user turn, so there is nothing to recall for")


def take_query(state: CognitiveState) -> None:
    """Stage: set ``state.query`` to the last user turn (raises ValueError if none)."""
    state.query = last_user_turn(state.messages)


def by_score(candidate: Candidate) -> tuple[float, str]:
    """Sort key: highest score first, ties broken by id so the order is reproducible."""
    return (-candidate.score, candidate.id)
