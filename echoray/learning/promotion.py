"""Promotion: session turns (short-term memory) become episodic memories (learning layer,
pure).

A turn is promoted once: its memory id is a hash of (session, seq), so a repeated run
appends nothing new. A user turn that capture already wrote as a memory of the same
session (same text) is not written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from echoray.memory.records import MemoryRecord, Turn

PROMOTED_PREFIX = "stm-"


def promoted_id(turn: Turn) -> str:
    digest = hashlib.sha256(f"{turn.session}\n{turn.seq}".encode()).hexdigest()
    return PROMOTED_PREFIX + digest[:32]


def turns_to_promote(
    turns: Sequence[Turn], memories: Sequence[MemoryRecord], roles: Sequence[str]
) -> list[Turn]:
    """The turns of ``roles`` that have no memory yet."""
    ids = {m.id for m in memories}
    said = {(m.session, m.text) for m in memories}
    return [
        t
        for t in turns
        if t.role in roles
        and t.text.strip()
        and promoted_id(t) not in ids
        and (t.session, t.text) not in said
    ]


def promoted_records(turns: Sequence[Turn], vectors: np.ndarray) -> list[MemoryRecord]:
    """One episodic memory per turn, dated by the turn."""
    return [
        MemoryRecord.build(
            id=promoted_id(turn),
            tenant=turn.tenant,
            user=turn.user,
            session=turn.session,
            kind="episodic",
            text=turn.text,
            vector=vector,
            created_at=turn.created_at,
            metadata={"role": turn.role, "promoted_from": f"{turn.session}#{turn.seq}"},
        )
        for turn, vector in zip(turns, vectors, strict=True)
    ]
