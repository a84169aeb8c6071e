"""Records to Arrow tables and back (memory layer, conversions for ``store``).

Rows read back from our own tables were validated when written, so they are rebuilt with
``model_construct`` (no second validation): rebuilding a working set of 100k memories
must take seconds, not minutes. Vectors travel as one contiguous numpy block.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from echoray.memory import schemas
from echoray.memory.records import Experience, Link, MemoryRecord, Pattern, Turn
from echoray.memory.safe import canonical_json

_MEMORY_SCALARS = (
    "id",
    "tenant",
    "user",
    "session",
    "kind",
    "text",
    "created_at",
    "last_accessed",
    "access_count",
    "importance",
    "valence",
    "arousal",
    "dominance",
    "strength",
    "pinned",
    "sources",
)


def vectors_array(vectors: Sequence[np.ndarray], dimension: int) -> pa.FixedSizeListArray:
    """Rows of ``dimension`` float32 values as a fixed-size-list column."""
    block = np.ascontiguousarray(np.stack(vectors), dtype=np.float32) if vectors else None
    flat = pa.array(block.ravel() if block is not None else [], type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, dimension)


def vectors_from(column: pa.ChunkedArray | pa.Array, dimension: int) -> np.ndarray:
    """A fixed-size-list column as a [rows, dimension] float32 array."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    values = array.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float32).reshape(len(array), dimension)


def memories_table(
    records: Sequence[MemoryRecord],
    dimension: int,
    *,
    archived_at: datetime | None = None,
    archive_reason: str | Sequence[str] = "",
) -> pa.Table:
    """``records`` as a ``memories`` table, or an ``archive`` one when ``archived_at`` is set
    (with one reason for all, or one per record)."""
    columns: dict[str, Any] = {
        name: [getattr(r, name) for r in records] for name in _MEMORY_SCALARS
    }
    columns["vector"] = vectors_array([r.vector for r in records], dimension)
    columns["metadata"] = [canonical_json(r.metadata) for r in records]
    schema = schemas.memories_schema(dimension)
    if archived_at is not None:
        columns["archived_at"] = [archived_at] * len(records)
        columns["archive_reason"] = (
            [archive_reason] * len(records)
            if isinstance(archive_reason, str)
            else list(archive_reason)
        )
        schema = schemas.archive_schema(dimension)
    return pa.table({name: columns[name] for name in schema.names}, schema=schema)


def records_from(table: pa.Table, dimension: int) -> list[MemoryRecord]:
    """Memory records from rows of the ``memories`` (or ``archive``) table."""
    if table.num_rows == 0:
        return []
    vectors = vectors_from(table.column("vector"), dimension)
    scalars = {name: table.column(name).to_pylist() for name in _MEMORY_SCALARS}
    metadata = table.column("metadata").to_pylist()
    return [
        MemoryRecord.model_construct(
            **{name: values[row] for name, values in scalars.items()},
            vector=vectors[row],
            metadata=json.loads(metadata[row]),
        )
        for row in range(table.num_rows)
    ]


def archive_details(table: pa.Table) -> list[tuple[datetime, str]]:
    """(archived_at, archive_reason) of each row of an ``archive`` table."""
    return list(
        zip(
            table.column("archived_at").to_pylist(),
            table.column("archive_reason").to_pylist(),
            strict=True,
        )
    )


def links_table(links: Sequence[Link]) -> pa.Table:
    schema = schemas.links_schema()
    return pa.table(
        {name: [getattr(link, name) for link in links] for name in schema.names}, schema=schema
    )


def links_from(table: pa.Table) -> list[Link]:
    return [Link.model_construct(**row) for row in table.to_pylist()]


def turns_table(turns: Sequence[Turn]) -> pa.Table:
    schema = schemas.sessions_schema()
    return pa.table(
        {name: [getattr(turn, name) for turn in turns] for name in schema.names}, schema=schema
    )


def turns_from(table: pa.Table) -> list[Turn]:
    return [Turn.model_construct(**row) for row in table.to_pylist()]


def experiences_table(experiences: Sequence[Experience]) -> pa.Table:
    schema = schemas.experiences_schema()
    columns: dict[str, Any] = {
        name: [getattr(e, name) for e in experiences] for name in schema.names if name != "metadata"
    }
    columns["metadata"] = [canonical_json(e.metadata) for e in experiences]
    return pa.table({name: columns[name] for name in schema.names}, schema=schema)


def experiences_from(table: pa.Table) -> list[Experience]:
    rows = table.to_pylist()
    for row in rows:
        row["metadata"] = json.loads(row["metadata"])
    return [Experience.model_construct(**row) for row in rows]


def patterns_table(patterns: Sequence[Pattern], dimension: int) -> pa.Table:
    schema = schemas.patterns_schema(dimension)
    columns: dict[str, Any] = {
        name: [getattr(p, name) for p in patterns] for name in schema.names if name != "centroid"
    }
    columns["centroid"] = vectors_array([p.centroid for p in patterns], dimension)
    return pa.table({name: columns[name] for name in schema.names}, schema=schema)


def patterns_from(table: pa.Table, dimension: int) -> list[Pattern]:
    if table.num_rows == 0:
        return []
    centroids = vectors_from(table.column("centroid"), dimension)
    rows = table.drop_columns(["centroid"]).to_pylist()
    return [Pattern.model_construct(**row, centroid=centroids[i]) for i, row in enumerate(rows)]
