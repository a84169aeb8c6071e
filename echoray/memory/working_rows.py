"""The records behind a working set's rows: entries, rankings, interned codes (memory
layer, pure Python)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from echoray.memory.records import MemoryRecord
from echoray.memory.safe import metadata_token

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Ranked:
    """One memory in a ranking: its id, score and 1-based rank."""

    id: str
    score: float
    rank: int


@dataclass
class Entry:
    """A memory's fields beyond its vector: enough to answer a search, and to rebuild the
    whole record for the cognitive pipeline without a LanceDB read."""

    key: Key
    text: str
    speaker: str | None
    session: str | None
    kind: str
    created_at: datetime
    metadata: dict[str, Any]
    fields: dict[str, Any]  # MemoryRecord's remaining scalar fields (importance, strength, …)


# MemoryRecord fields an _Entry keeps in ``fields``: all but those it holds itself and the
# vector (which lives in the matrix).
SCALAR_FIELDS = tuple(
    name
    for name in MemoryRecord.model_fields
    if name
    not in {"id", "tenant", "user", "session", "kind", "text", "vector", "created_at", "metadata"}
)


class Interner:
    """Strings to small integer codes, so filters compare integers."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, value: str) -> int:
        return self._codes.setdefault(value, len(self._codes))

    def find(self, value: str) -> int | None:
        return self._codes.get(value)


class MetadataIndex:
    """Documents by (metadata key, value), for equality filters."""

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str], set[int]] = {}

    def add(self, doc: int, metadata: dict[str, Any]) -> None:
        for name, value in metadata.items():
            self._docs.setdefault((name, metadata_token(value)), set()).add(doc)

    def remove(self, doc: int, metadata: dict[str, Any]) -> None:
        for name, value in metadata.items():
            key = (name, metadata_token(value))
            docs = self._docs.get(key)
            if docs is not None:
                docs.discard(doc)
                if not docs:
                    del self._docs[key]

    def docs(self, wanted: dict[str, Any]) -> set[int]:
        """Documents holding every (key, value) of ``wanted``."""
        sets = sorted(
            (self._docs.get((k, metadata_token(v)), set()) for k, v in wanted.items()), key=len
        )
        return set(sets[0]).intersection(*sets[1:]) if sets else set()
