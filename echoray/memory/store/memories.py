"""The ``memories`` table: the memories themselves (memory layer, storage)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import groupby

import numpy as np
import pyarrow as pa

from echoray.errors import NotFoundError, UnprocessableEntityError
from echoray.memory import rows, safe, schemas
from echoray.memory.limits import check_batch, check_limit, check_limits
from echoray.memory.records import (
    AppendResult,
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    Page,
    utc_now,
)
from echoray.memory.store.base import _ID_KEY, Owns, TableStore, _ordering

# Candidates fetched per wanted result when metadata is filtered after a LanceDB search.
_OVERFETCH = 4
# With a quantized (SQ) index, re-score this many candidates per result on the full vectors:
# the quantized distances alone are far off (cosine 0.17 read as -0.65 in a test).
_REFINE_FACTOR = 4


class MemoryTable(TableStore):
    """The ``memories`` table: writes, reads, and the index fallback."""

    # --- memories: writes ---------------------------------------------------------------

    def append(self, records: Sequence[MemoryRecord]) -> AppendResult:
        """Store new memories in one commit; ones whose key is already stored are skipped.

        Raises:
            UnprocessableEntityError: empty batch, or a vector of the wrong dimension.
            PayloadTooLargeError: the batch, a text or a metadata object is over its limit.
        """
        inserted = self.append_new(records)
        stored = {record.key for record in inserted}
        return AppendResult(
            inserted=[record.id for record in inserted],
            existing=[r.id for r in records if r.key not in stored],
        )

    def append_new(self, records: Sequence[MemoryRecord]) -> list[MemoryRecord]:
        """``append``, returning the record objects it inserted: for each key not yet
        stored, the first of ``records`` with that key.

        Raises:
            UnprocessableEntityError: empty batch, or a vector of the wrong dimension.
            PayloadTooLargeError: the batch, a text or a metadata object is over its limit.
        """
        check_limits(records, self.limits)
        self._check_dimension(records)
        existing = self._existing_keys(records)
        fresh: dict[tuple[str, str, str], MemoryRecord] = {}
        for record in records:
            if record.key not in existing:
                fresh.setdefault(record.key, record)  # the first of repeated keys wins
        if fresh:
            # A plain append, not merge_insert (three times the cost per row): the key
            # check above is enough because one shard owns each user and its group
            # committer runs one commit at a time, so no other write can land between.
            self._memories.add(rows.memories_table(list(fresh.values()), self.dimension))
        return list(fresh.values())

    def update(self, tenant: str, user: str, memory_id: str, patch: MemoryPatch) -> MemoryRecord:
        """Change fields of one memory in one commit and return the new record.

        Raises:
            NotFoundError: no such memory for this tenant and user.
            UnprocessableEntityError: malformed ids, or the patched record is invalid.
            PayloadTooLargeError: the new text or metadata is over its limit.
        """
        updated = patch.apply(self.get(tenant, user, memory_id))
        check_limits([updated], self.limits)
        self._check_dimension([updated])
        result = (
            self._memories.merge_insert(_ID_KEY)
            .when_matched_update_all()
            .execute(rows.memories_table([updated], self.dimension))
        )
        if result.num_updated_rows == 0:  # deleted between the read and the write
            raise self._not_found(memory_id)
        return updated

    def touch(self, tenant: str, user: str, ids: Sequence[str], at: datetime | None = None) -> int:
        """Count one more access of each memory in ``ids`` (one commit); returns how many.

        Raises:
            UnprocessableEntityError: malformed tenant, user or ids.
        """
        if not ids:
            return 0
        check_batch(len(ids), self.limits, "ids")
        result = self._memories.update(
            where=safe.where_ids(tenant, user, ids),
            values_sql={
                "access_count": "access_count + 1",
                "last_accessed": safe.sql_timestamp(at or utc_now()),
            },
        )
        return int(result.rows_updated)

    def delete(self, tenant: str, user: str, memory_id: str) -> None:
        """Delete one memory and its links.

        Raises:
            NotFoundError: no such memory for this tenant and user.
            UnprocessableEntityError: malformed tenant, user or id.
        """
        if self.delete_many(tenant, user, [memory_id]) == 0:
            raise self._not_found(memory_id)

    def delete_many(self, tenant: str, user: str, ids: Sequence[str]) -> int:
        """Delete memories of one user and their links; returns how many memories went.

        Raises:
            UnprocessableEntityError: malformed tenant, user or ids.
            PayloadTooLargeError: more ids than ``max_batch``.
        """
        if not ids:
            return 0
        check_batch(len(ids), self.limits, "ids")
        deleted = self._memories.delete(safe.where_ids(tenant, user, ids)).num_deleted_rows
        self._tables[schemas.LINKS].delete(safe.where_links_touching(tenant, user, ids))
        return int(deleted)

    def delete_user(self, tenant: str, user: str) -> int:
        """Delete everything of one user (memories, links, archive, sessions, experiences,
        patterns) and nothing of anyone else; returns how many memories went.

        Raises:
            UnprocessableEntityError: malformed tenant or user.
        """
        scope = safe.where_scope(tenant, user)
        deleted = self._memories.delete(scope).num_deleted_rows
        for name in schemas.TABLE_NAMES:
            if name != schemas.MEMORIES:
                self._tables[name].delete(scope)
        return int(deleted)

    # --- memories: reads ----------------------------------------------------------------

    def get(self, tenant: str, user: str, memory_id: str) -> MemoryRecord:
        """One memory.

        Raises:
            NotFoundError: no such memory for this tenant and user (also when it exists
                for another tenant or user).
            UnprocessableEntityError: malformed tenant, user or id.
        """
        found = self.get_many(tenant, user, [memory_id])
        if not found:
            raise self._not_found(memory_id)
        return found[0]

    def get_many(self, tenant: str, user: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """The memories of ``ids`` that exist for this tenant and user, in ``ids`` order.

        Raises:
            UnprocessableEntityError: malformed tenant, user or ids.
            PayloadTooLargeError: more ids than ``max_batch``.
        """
        if not ids:
            return []
        check_batch(len(ids), self.limits, "ids")
        table = self._memories.search().where(safe.where_ids(tenant, user, ids)).to_arrow()
        by_id = {r.id: r for r in rows.records_from(table, self.dimension)}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    def list_page(self, tenant: str, user: str, limit: int, cursor: str | None = None) -> Page:
        """One page of a user's memories, oldest first, in a stable (created_at, id) order.

        Raises:
            UnprocessableEntityError: malformed tenant or user, or ``limit`` out of range.
            InvalidRequestError: ``cursor`` is not one this store returned.
        """
        check_limit(limit, self.limits)
        where = safe.where_scope(tenant, user)
        if cursor is not None:
            where = safe.combine(where, safe.where_after(*safe.decode_cursor(cursor)))
        table = (
            self._memories.search()
            .where(where)
            .order_by(_ordering(("created_at", True), ("id", True)))
            .limit(limit + 1)
            .to_arrow()
        )
        records = rows.records_from(table, self.dimension)
        if len(records) <= limit:
            return Page(records=records, next_cursor=None)
        last = records[limit - 1]
        return Page(
            records=records[:limit],
            next_cursor=safe.encode_cursor(safe.to_micros(last.created_at), last.id),
        )

    def count(self, tenant: str | None = None, user: str | None = None) -> int:
        """Memories stored, of everyone, of one tenant, or of one user.

        Raises:
            UnprocessableEntityError: malformed tenant or user.
        """
        if tenant is None:
            return int(self._memories.count_rows())
        return int(self._memories.count_rows(safe.where_scope(tenant, user)))

    def scan(
        self,
        tenant: str | None = None,
        users: Sequence[str] | None = None,
        *,
        owns: Owns | None = None,
        batch_size: int = 4096,
    ) -> Iterator[MemoryRecord]:
        """Every memory (of one tenant, of some of its users, or those ``owns(tenant,
        user)`` accepts), to rebuild a working set. Order is unspecified.

        Raises:
            UnprocessableEntityError: malformed tenant or users.
        """
        for batch in self._scan(self._memories, tenant, users, batch_size):
            table = pa.Table.from_batches([batch])
            for record in rows.records_from(table, self.dimension):
                if owns is None or owns(record.tenant, record.user):
                    yield record

    # --- memories: the index fallback for shards over their RAM budget ---------------

    def ensure_indexes(self, *, vector_min_rows: int = 100_000) -> None:
        """Create the full-text index on ``text`` and, from ``vector_min_rows`` memories
        on, a cosine IVF-HNSW-SQ vector index. Rows added later are searched too (LanceDB
        scans what an index does not cover yet); call again to fold them in."""
        from lancedb.index import FTS, HnswSq

        existing = {tuple(index.columns) for index in self._memories.list_indices()}
        if existing:
            self._memories.optimize()  # fold rows added since into the existing indexes
        if ("text",) not in existing:
            self._memories.create_index("text", config=FTS())
        if ("vector",) not in existing and self._memories.count_rows() >= vector_min_rows:
            self._memories.create_index("vector", config=HnswSq(distance_type="cosine"))

    def vector_search(
        self, tenant: str, flt: MemoryFilter, vector: np.ndarray, limit: int
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``limit`` memories nearest to ``vector`` (cosine similarity, best first),
        served by LanceDB: exact without an index, approximate with ``ensure_indexes``'.

        Raises:
            UnprocessableEntityError: malformed filter values, ``limit`` out of range, or a
                vector of the wrong dimension.
        """
        check_limit(limit, self.limits)
        query = np.asarray(vector, dtype=np.float32)
        if query.shape != (self.dimension,):
            raise UnprocessableEntityError(
                f"query vector has shape {query.shape}; expected ({self.dimension},)",
                param="vector",
            )

        def fetch(count: int) -> list[tuple[MemoryRecord, float]]:
            table = (
                self._memories.search(query, vector_column_name="vector")
                .distance_type("cosine")
                .refine_factor(_REFINE_FACTOR)
                .where(self._where(tenant, flt), prefilter=True)
                .limit(count)
                .to_arrow()
            )
            distances = table.column("_distance").to_pylist()
            found = rows.records_from(table, self.dimension)
            return [(r, 1.0 - float(d)) for r, d in zip(found, distances, strict=True)]

        return self._post_filtered(fetch, flt, limit)

    def text_search(
        self, tenant: str, flt: MemoryFilter, text: str, limit: int
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``limit`` memories that best match ``text`` by LanceDB's full-text search
        (BM25 score, best first); creates the full-text index on first use.

        Raises:
            UnprocessableEntityError: malformed filter values or ``limit`` out of range.
        """
        check_limit(limit, self.limits)
        if not text.strip():
            return []
        if not any(tuple(i.columns) == ("text",) for i in self._memories.list_indices()):
            self.ensure_indexes(vector_min_rows=2**62)

        def fetch(count: int) -> list[tuple[MemoryRecord, float]]:
            table = (
                self._memories.search(text, query_type="fts", fts_columns="text")
                .where(self._where(tenant, flt), prefilter=True)
                .limit(count)
                .to_arrow()
            )
            scores = table.column("_score").to_pylist()
            found = rows.records_from(table, self.dimension)
            return [(r, float(s)) for r, s in zip(found, scores, strict=True)]

        return self._post_filtered(fetch, flt, limit)

    def replace(self, records: Sequence[MemoryRecord]) -> int:
        """Overwrite stored memories with ``records`` whole (one commit); a record no
        longer stored (deleted meanwhile) is not written back. Returns how many changed."""
        if not records:
            return 0
        check_limits(records, self.limits)
        self._check_dimension(records)
        result = (
            self._memories.merge_insert(_ID_KEY)
            .when_matched_update_all()
            .execute(rows.memories_table(records, self.dimension))
        )
        return int(result.num_updated_rows)

    def scan_memory_ids(self) -> Iterator[tuple[str, str, str]]:
        """(tenant, user, id) of every memory (for consistency checks)."""
        for batch in self._memories.search().select(_ID_KEY).to_batches():
            yield from zip(*(batch.column(c).to_pylist() for c in _ID_KEY), strict=True)

    def _not_found(self, memory_id: str) -> NotFoundError:
        return NotFoundError(f"no memory {memory_id!r}", param="id", code="memory_not_found")

    def _check_dimension(self, records: Iterable[MemoryRecord]) -> None:
        for record in records:
            if record.vector.shape != (self.dimension,):
                raise UnprocessableEntityError(
                    f"vector has {record.vector.shape[0]} values; expected {self.dimension}",
                    param="vector",
                )

    def _existing_keys(self, records: Sequence[MemoryRecord]) -> set[tuple[str, str, str]]:
        existing: set[tuple[str, str, str]] = set()
        ordered = sorted(records, key=lambda r: (r.tenant, r.user))
        for (tenant, user), group in groupby(ordered, key=lambda r: (r.tenant, r.user)):
            ids = list(dict.fromkeys(r.id for r in group))
            table = (
                self._memories.search()
                .where(safe.where_ids(tenant, user, ids))
                .select(["id"])
                .to_arrow()
            )
            existing.update((tenant, user, i) for i in table.column("id").to_pylist())
        return existing

    def _where(self, tenant: str, flt: MemoryFilter) -> str:
        return safe.where_memories(
            tenant,
            flt.user,
            session=flt.session,
            kinds=flt.kinds,
            created_after=flt.created_after,
            created_before=flt.created_before,
        )

    def _post_filtered(
        self,
        fetch: Callable[[int], list[tuple[MemoryRecord, float]]],
        flt: MemoryFilter,
        limit: int,
    ) -> list[tuple[MemoryRecord, float]]:
        # Metadata equality never goes into SQL: fetch more and filter here, widening
        # until enough pass or LanceDB has nothing more to give.
        if not flt.metadata:
            return fetch(limit)
        count = limit * _OVERFETCH
        while True:
            found = fetch(count)
            kept = [(r, s) for r, s in found if safe.metadata_matches(r.metadata, flt.metadata)]
            if len(kept) >= limit or len(found) < count or count >= 1_000_000:
                return kept[:limit]
            count *= _OVERFETCH
