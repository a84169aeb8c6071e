"""Memory records for tests: real HashEmbedder vectors, fixed clock, sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from echoray.embeddings.hashed import HashEmbedder
from echoray.memory.records import MemoryRecord

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
EMBEDDER = HashEmbedder(dimension=384)


def record(
    text: str,
    *,
    tenant: str = "acme",
    user: str = "alice",
    seconds: float = 0.0,
    **fields: Any,
) -> MemoryRecord:
    """A memory of ``text`` written ``seconds`` after ``EPOCH``."""
    return MemoryRecord.build(
        tenant=tenant,
        user=user,
        text=text,
        vector=EMBEDDER.embed([text])[0],
        created_at=EPOCH + timedelta(seconds=seconds),
        **fields,
    )


CORPUS = [
    "The cat sat on the warm windowsill all afternoon.",
    "Alice prefers green tea without sugar in the morning.",
    "The quarterly report is due on Friday at noon.",
    "Bob's dog loves chasing tennis balls in the park.",
    "Alice's sister lives in Lisbon and works as an architect.",
    "Remember to water the tomato plants every evening.",
    "The train to Porto leaves from platform four.",
    "Green tea and jasmine tea are Alice's favourite drinks.",
    "The cat knocked a glass of water off the table.",
    "Friday's meeting moved to the large conference room.",
]
