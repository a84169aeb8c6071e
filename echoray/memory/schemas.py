"""Arrow schemas of the memory tables, defined once (memory layer, data definitions).

Every table carries ``tenant`` and ``user`` so that every read and write can be scoped by
both. Timestamps are microseconds in UTC. ``metadata`` is a JSON object stored as a string
(LanceDB has no JSON type); ``sources`` is a list of memory ids.

Tables:

- ``memories``: one row per memory; the key is (tenant, user, id).
- ``links``: the memory graph, one row per undirected edge (src, dst, kind, weight).
- ``experiences``: one row per served exchange.
- ``patterns``: learned clusters of a user's requests.
- ``archive``: forgotten memories (the ``memories`` columns plus when and why), restorable.
- ``sessions``: short-term memory, the recent turns of each session (see ``short_term``).
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

MEMORY_KINDS: Final = ("episodic", "semantic", "reflection", "procedural")
LINK_KINDS: Final = ("temporal", "neighbour", "source")
TURN_ROLES: Final = ("system", "user", "assistant", "tool")

MEMORIES: Final = "memories"
LINKS: Final = "links"
EXPERIENCES: Final = "experiences"
PATTERNS: Final = "patterns"
ARCHIVE: Final = "archive"
SESSIONS: Final = "sessions"
TABLE_NAMES: Final = (MEMORIES, LINKS, EXPERIENCES, PATTERNS, ARCHIVE, SESSIONS)

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
# The key a memory is found by; merge_insert joins on it so that re-appending is a no-op.
MEMORY_KEY: Final = ("tenant", "user", "id")


def vector_type(dimension: int) -> pa.DataType:
    """A fixed-size list of float32, the type LanceDB indexes as a vector column."""
    return pa.list_(pa.float32(), dimension)


def _scope() -> list[pa.Field]:
    return [
        pa.field("tenant", pa.string(), nullable=False),
        pa.field("user", pa.string(), nullable=False),
    ]


def memories_schema(dimension: int) -> pa.Schema:
    """The ``memories`` table: every field of a ``MemoryRecord``."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            *_scope(),
            pa.field("session", pa.string()),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("vector", vector_type(dimension), nullable=False),
            pa.field("created_at", TIMESTAMP, nullable=False),
            pa.field("last_accessed", TIMESTAMP, nullable=False),
            pa.field("access_count", pa.int64(), nullable=False),
            pa.field("importance", pa.float64(), nullable=False),
            pa.field("valence", pa.float64(), nullable=False),
            pa.field("arousal", pa.float64(), nullable=False),
            pa.field("dominance", pa.float64(), nullable=False),
            pa.field("strength", pa.float64(), nullable=False),
            pa.field("pinned", pa.bool_(), nullable=False),
            pa.field("sources", pa.list_(pa.string()), nullable=False),
            pa.field("metadata", pa.string(), nullable=False),
        ]
    )


def archive_schema(dimension: int) -> pa.Schema:
    """The ``archive`` table: a memory row plus when and why it was archived."""
    return (
        memories_schema(dimension)
        .append(pa.field("archived_at", TIMESTAMP, nullable=False))
        .append(pa.field("archive_reason", pa.string(), nullable=False))
    )


def links_schema() -> pa.Schema:
    """The ``links`` table: undirected, weighted edges between two memories of one user."""
    return pa.schema(
        [
            *_scope(),
            pa.field("src", pa.string(), nullable=False),
            pa.field("dst", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("weight", pa.float64(), nullable=False),
            pa.field("created_at", TIMESTAMP, nullable=False),
        ]
    )


def experiences_schema() -> pa.Schema:
    """The ``experiences`` table: one served exchange and its outcome."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            *_scope(),
            pa.field("session", pa.string()),
            pa.field("created_at", TIMESTAMP, nullable=False),
            pa.field("query", pa.string(), nullable=False),
            pa.field("memory_ids", pa.list_(pa.string()), nullable=False),
            pa.field("response", pa.string(), nullable=False),
            pa.field("model", pa.string(), nullable=False),
            pa.field("latency_ms", pa.float64(), nullable=False),
            pa.field("feedback", pa.float64()),
            pa.field("metadata", pa.string(), nullable=False),
        ]
    )


def patterns_schema(dimension: int) -> pa.Schema:
    """The ``patterns`` table: a learned cluster (centroid, count, strength, label)."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            *_scope(),
            pa.field("centroid", vector_type(dimension), nullable=False),
            pa.field("count", pa.int64(), nullable=False),
            pa.field("strength", pa.float64(), nullable=False),
            pa.field("label", pa.string(), nullable=False),
            pa.field("updated_at", TIMESTAMP, nullable=False),
        ]
    )


def sessions_schema() -> pa.Schema:
    """The ``sessions`` table: short-term memory, one row per turn, ordered by ``seq``."""
    return pa.schema(
        [
            *_scope(),
            pa.field("session", pa.string(), nullable=False),
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("role", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("created_at", TIMESTAMP, nullable=False),
        ]
    )


def all_schemas(dimension: int) -> dict[str, pa.Schema]:
    """Every table's schema by name, for a vector dimension."""
    return {
        MEMORIES: memories_schema(dimension),
        LINKS: links_schema(),
        EXPERIENCES: experiences_schema(),
        PATTERNS: patterns_schema(dimension),
        ARCHIVE: archive_schema(dimension),
        SESSIONS: sessions_schema(),
    }
