"""Validated memory records, filters and results (memory layer, plain data).

``MemoryRecord`` is one row of the ``memories`` table. Its validators check types and
ranges (importance, arousal, dominance and strength in [0, 1], valence in [-1, 1]), that
identifiers are well formed (see ``safe``) and that the vector is finite; the vector is
stored L2-normalised so a dot product is the cosine everywhere. Size limits that depend on
the configuration (text length, metadata bytes, batch size) are checked by
``echoray.memory.limits``. ``build`` turns pydantic's ``ValidationError`` into echoray's
``UnprocessableEntityError`` naming the field; constructing a model directly raises
pydantic's error.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from echoray.errors import EchoRayError, UnprocessableEntityError
from echoray.protocol.ids import validate_identifier

MemoryKind = Literal["episodic", "semantic", "reflection", "procedural"]
LinkKind = Literal["temporal", "neighbour", "source"]
TurnRole = Literal["system", "user", "assistant", "tool"]
MetadataScalar = str | int | float | bool | None

MAX_FILTER_KEYS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_SOURCES = 256


def new_memory_id() -> str:
    """A fresh random id (32 hex characters)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Now, in UTC, at the microsecond precision the tables keep."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to microseconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _identifier(value: object, field: str) -> str:
    try:
        return validate_identifier(value, field)
    except EchoRayError as exc:
        raise ValueError(exc.message) from None


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    for key in value:
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_METADATA_KEY_CHARS:
            raise ValueError(f"metadata keys must be 1 to {MAX_METADATA_KEY_CHARS} characters")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be a JSON object: {exc}") from None
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @classmethod
    def build(cls, **data: Any) -> Self:
        """Validate ``data`` into a model.

        Raises:
            UnprocessableEntityError: a field is missing or invalid; ``param`` names it.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(part) for part in first["loc"]) or None
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or cls.__name__}: {err['msg']}"
                for err in exc.errors()
            )
            raise UnprocessableEntityError(problems, param=param) from None


class _Owned(_Model):
    """A row keyed by (tenant, user, id), in a session or in none: its identifiers are
    checked by the one rule (``echoray.protocol.ids``)."""

    @field_validator("id", "tenant", "user", check_fields=False)
    @classmethod
    def _identifiers(cls, value: object, info: Any) -> str:
        return _identifier(value, info.field_name)

    @field_validator("session", check_fields=False)
    @classmethod
    def _session(cls, value: object) -> str | None:
        return None if value is None else _identifier(value, "session")


class MemoryRecord(_Owned):
    """One memory of one user."""

    id: str = Field(default_factory=new_memory_id, description="Unique within the user.")
    tenant: str = Field(description="Tenant that owns the memory.")
    user: str = Field(description="User the memory is about.")
    session: str | None = Field(None, description="Session it was written in, if any.")
    kind: MemoryKind = Field("episodic", description="episodic, semantic, reflection, …")
    text: str = Field(min_length=1, description="What is remembered.")
    vector: np.ndarray = Field(description="Unit-length float32 embedding of the text.")
    created_at: datetime = Field(default_factory=utc_now, description="UTC write time.")
    last_accessed: datetime | None = Field(None, description="UTC; defaults to created_at.")
    access_count: int = Field(0, ge=0, description="Times recalled.")
    importance: float = Field(0.5, ge=0, le=1, description="How much it matters, 0..1.")
    valence: float = Field(0.0, ge=-1, le=1, description="Unpleasant -1 .. pleasant 1.")
    arousal: float = Field(0.0, ge=0, le=1, description="Calm 0 .. excited 1.")
    dominance: float = Field(0.5, ge=0, le=1, description="Submissive 0 .. in control 1.")
    strength: float = Field(1.0, ge=0, le=1, description="Memory strength; decays unless used.")
    pinned: bool = Field(False, description="Pinned memories are never forgotten.")
    sources: list[str] = Field(
        default_factory=list, max_length=MAX_SOURCES, description="Ids it was derived from."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Caller's JSON object.")

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[object]) -> list[str]:
        return [_identifier(item, "sources") for item in value]

    @field_validator("vector", mode="before")
    @classmethod
    def _vector(cls, value: object) -> np.ndarray:
        vector = np.array(value, dtype=np.float32, copy=True)
        if vector.ndim != 1 or vector.size == 0:
            raise ValueError("vector must be a non-empty list of numbers")
        if not np.all(np.isfinite(vector)):
            raise ValueError("vector must hold finite numbers")
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            raise ValueError("vector must not be all zeros")
        if abs(norm - 1.0) > 1e-4:
            vector /= norm
        return vector

    @field_validator("created_at", "last_accessed")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @field_validator("importance", "valence", "arousal", "dominance", "strength")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_metadata(value)

    @model_validator(mode="after")
    def _accessed_defaults_to_created(self) -> MemoryRecord:
        if self.last_accessed is None:
            self.last_accessed = self.created_at
        return self

    def __eq__(self, other: object) -> bool:
        # pydantic's __eq__ would compare the arrays element-wise and fail.
        if not isinstance(other, MemoryRecord):
            return NotImplemented
        return self.model_dump(exclude={"vector"}) == other.model_dump(exclude={"vector"}) and bool(
            np.array_equal(self.vector, other.vector)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def key(self) -> tuple[str, str, str]:
        """(tenant, user, id): what the memory is found by."""
        return (self.tenant, self.user, self.id)


class MemoryPatch(_Model):
    """Fields of a memory that ``update`` may change; None leaves a field as it is.

    A new ``text`` needs its new ``vector`` (the store does not embed).
    """

    kind: MemoryKind | None = None
    text: str | None = Field(None, min_length=1)
    vector: np.ndarray | None = None
    last_accessed: datetime | None = None
    access_count: int | None = Field(None, ge=0)
    importance: float | None = Field(None, ge=0, le=1)
    valence: float | None = Field(None, ge=-1, le=1)
    arousal: float | None = Field(None, ge=0, le=1)
    dominance: float | None = Field(None, ge=0, le=1)
    strength: float | None = Field(None, ge=0, le=1)
    pinned: bool | None = None
    sources: list[str] | None = Field(None, max_length=MAX_SOURCES)
    metadata: dict[str, Any] | None = None

    @field_validator("vector", mode="before")
    @classmethod
    def _vector(cls, value: object) -> np.ndarray | None:
        return None if value is None else np.array(value, dtype=np.float32, copy=True)

    @model_validator(mode="after")
    def _text_needs_vector(self) -> MemoryPatch:
        if self.text is not None and self.vector is None:
            raise ValueError("a new text needs its new vector")
        return self

    def apply(self, record: MemoryRecord) -> MemoryRecord:
        """``record`` with this patch applied, validated again.

        Raises:
            UnprocessableEntityError: the patched record is invalid.
        """
        changes = {
            name: getattr(self, name)
            for name in self.model_fields_set
            if getattr(self, name) is not None
        }
        data = record.model_dump(exclude={"vector"})
        data["vector"] = record.vector
        data.update(changes)
        return MemoryRecord.build(**data)


class MemoryFilter(_Model):
    """What a search or list may return: one user's memories, optionally narrowed."""

    user: str = Field(description="Required: memories are always per user.")
    session: str | None = Field(None, description="Only this session.")
    kinds: list[MemoryKind] | None = Field(None, min_length=1, description="Only these kinds.")
    created_after: datetime | None = Field(None, description="Created at or after (UTC).")
    created_before: datetime | None = Field(None, description="Created before (UTC).")
    metadata: dict[str, MetadataScalar] = Field(
        default_factory=dict,
        max_length=MAX_FILTER_KEYS,
        description="Metadata keys that must hold exactly these values.",
    )

    @field_validator("user")
    @classmethod
    def _user(cls, value: object) -> str:
        return _identifier(value, "user")

    @field_validator("session")
    @classmethod
    def _session(cls, value: object) -> str | None:
        return None if value is None else _identifier(value, "session")

    @field_validator("created_after", "created_before")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_metadata(value)

    @model_validator(mode="after")
    def _ordered(self) -> MemoryFilter:
        if self.created_after and self.created_before and self.created_after > self.created_before:
            raise ValueError("created_after must not be later than created_before")
        return self


class Why(BaseModel):
    """Why a memory was recalled: its rank in each list (1-based) and the link path."""

    model_config = ConfigDict(extra="forbid")

    dense_rank: int | None = Field(None, description="Rank by cosine similarity.")
    lexical_rank: int | None = Field(None, description="Rank by BM25.")
    link_path: list[str] | None = Field(
        None, description="Ids from a directly recalled memory to this one, over links."
    )


class SearchHit(BaseModel):
    """One recalled memory with its fused score and the reasons for it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    score: float
    kind: MemoryKind
    session: str | None
    created_at: datetime
    metadata: dict[str, Any]
    why: Why


class Link(_Model):
    """An undirected, weighted edge between two memories of one user."""

    tenant: str
    user: str
    src: str
    dst: str
    kind: LinkKind
    weight: float = Field(ge=0, le=1)
    created_at: datetime = Field(default_factory=utc_now)

    @field_validator("tenant", "user", "src", "dst")
    @classmethod
    def _identifiers(cls, value: object, info: Any) -> str:
        return _identifier(value, info.field_name)

    @model_validator(mode="after")
    def _no_loops(self) -> Link:
        if self.src == self.dst:
            raise ValueError("a link joins two different memories")
        return self


class Turn(_Model):
    """One turn of a session's short-term memory."""

    tenant: str
    user: str
    session: str
    seq: int = Field(ge=0)
    role: TurnRole
    text: str
    created_at: datetime = Field(default_factory=utc_now)

    @field_validator("tenant", "user", "session")
    @classmethod
    def _identifiers(cls, value: object, info: Any) -> str:
        return _identifier(value, info.field_name)


class Experience(_Owned):
    """One served exchange: what was asked, which memories were used, what came back."""

    id: str = Field(default_factory=new_memory_id)
    tenant: str
    user: str
    session: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    query: str
    memory_ids: list[str] = Field(default_factory=list)
    response: str
    model: str
    latency_ms: float = Field(ge=0)
    feedback: float | None = Field(None, ge=-1, le=1)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_metadata(value)


class Pattern(_Model):
    """A learned cluster of one user's requests."""

    id: str = Field(default_factory=new_memory_id)
    tenant: str
    user: str
    centroid: np.ndarray
    count: int = Field(ge=0)
    strength: float = Field(ge=0, le=1)
    label: str = ""
    updated_at: datetime = Field(default_factory=utc_now)

    @field_validator("id", "tenant", "user")
    @classmethod
    def _identifiers(cls, value: object, info: Any) -> str:
        return _identifier(value, info.field_name)

    @field_validator("centroid", mode="before")
    @classmethod
    def _centroid(cls, value: object) -> np.ndarray:
        centroid = np.array(value, dtype=np.float32, copy=True)
        if centroid.ndim != 1 or not np.all(np.isfinite(centroid)):
            raise ValueError("centroid must be a list of finite numbers")
        return centroid


class ArchivedMemory(BaseModel):
    """A memory in the archive, with when and why it was moved there."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    record: MemoryRecord
    archived_at: datetime
    reason: str


class Page(BaseModel):
    """One page of a listing and the cursor of the next (None on the last page)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    records: list[MemoryRecord]
    next_cursor: str | None


# --- what shard calls return ---------------------------------------------------------


@dataclass(frozen=True)
class AppendResult:
    """Which records an append stored, and which were already there (skipped)."""

    inserted: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recalled:
    """One memory recalled for the cognitive pipeline: the whole record, its fused recall
    score and why it was recalled."""

    record: MemoryRecord
    score: float
    why: Why


@dataclass(frozen=True)
class ChatRecall:
    """What one chat request needs from its user's shard, fetched in one call."""

    recalled: list[Recalled]
    turns: list[Turn]
    patterns: list[Pattern]


# A combined survivor and the ids of the memories folded into it.
Merged = tuple[MemoryRecord, list[str]]
