"""Wire models of the memory API (protocol layer): ``/v1/memories…``.

Every call names the ``user`` its memories belong to; the tenant comes from the API key,
never from the body. Identifiers are validated again in the memory layer (``safe``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from echoray.protocol.ids import IDENTIFIER_SCHEMA
from echoray.protocol.text import reject_lone_surrogates

Kind = Literal["episodic", "semantic", "reflection", "procedural"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _encodable_text(cls, data: Any) -> Any:
        return reject_lone_surrogates(data)


class MemoryIn(_Strict):
    """One memory to store. ``id`` lets a client retry without duplicating."""

    id: str | None = Field(None, pattern=IDENTIFIER_SCHEMA)
    text: str = Field(..., min_length=1)
    session: str | None = Field(None, pattern=IDENTIFIER_SCHEMA)
    kind: Kind = "episodic"
    created_at: datetime | None = Field(None, description="For importing history; default now.")
    importance: float = Field(0.5, ge=0, le=1, strict=True)
    pinned: bool = Field(False, strict=True)
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryCreateRequest(MemoryIn):
    user: str = Field(..., pattern=IDENTIFIER_SCHEMA)


class MemoryBatchRequest(_Strict):
    user: str = Field(..., pattern=IDENTIFIER_SCHEMA)
    memories: list[MemoryIn] = Field(..., min_length=1)


class MemoryFilters(_Strict):
    session: str | None = Field(None, pattern=IDENTIFIER_SCHEMA)
    kinds: list[Kind] | None = Field(None, min_length=1)
    created_after: datetime | None = None
    created_before: datetime | None = None
    metadata: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class MemorySearchRequest(_Strict):
    user: str = Field(..., pattern=IDENTIFIER_SCHEMA)
    query: str = Field(..., min_length=1, max_length=8192)
    limit: int = Field(10, ge=1, strict=True)
    filters: MemoryFilters = Field(default_factory=MemoryFilters)


class MemoryPatchRequest(_Strict):
    user: str = Field(..., pattern=IDENTIFIER_SCHEMA)
    text: str | None = Field(None, min_length=1)
    kind: Kind | None = None
    importance: float | None = Field(None, ge=0, le=1, strict=True)
    pinned: bool | None = Field(None, strict=True)
    metadata: dict[str, Any] | None = None


class MemoryOut(BaseModel):
    id: str
    user: str
    session: str | None
    kind: str
    text: str
    created_at: datetime
    last_accessed: datetime | None
    access_count: int
    importance: float
    valence: float
    arousal: float
    dominance: float
    strength: float
    pinned: bool
    sources: list[str] = []
    metadata: dict[str, Any]


class ArchivedMemoryOut(MemoryOut):
    archived_at: datetime
    archive_reason: str  # "forgotten", "merged into <id>", …


class ArchiveList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ArchivedMemoryOut]
    next_cursor: str | None


class MemoryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[MemoryOut]
    next_cursor: str | None


class MemoryBatchResponse(BaseModel):
    ids: list[str]
    inserted: int
    existing: int


class SearchResult(BaseModel):
    id: str
    text: str
    score: float
    kind: str
    created_at: datetime
    metadata: dict[str, Any]
    why: dict[str, Any]


class MemorySearchResponse(BaseModel):
    results: list[SearchResult]


class LinkOut(BaseModel):
    src: str
    dst: str
    kind: str
    weight: float


class LinksResponse(BaseModel):
    id: str
    links: list[LinkOut]


class DeletedResponse(BaseModel):
    deleted: int


class MemoryRestoreRequest(_Strict):
    user: str = Field(
        ..., pattern=IDENTIFIER_SCHEMA, description="The user the archived memory belongs to."
    )


class ConsolidateRequest(_Strict):
    tenant: str | None = Field(
        None,
        pattern=IDENTIFIER_SCHEMA,
        description="Consolidate one tenant's users; null: every tenant.",
    )
    wait: bool = Field(False, description="Answer when the run has finished.")
