"""``LanceDBStore``: the durable truth of the memory layer (memory layer, storage).

One LanceDB database at ``uri`` (a folder, ``s3://…`` or ``gs://…``) holds the tables of
``schemas``. Every method takes the tenant and the user and scopes its reads and writes
by both, so one tenant can never reach another's rows, not even by guessing ids: the key
of a memory is (tenant, user, id). Filter strings come only from ``safe``.

Writes return once LanceDB has committed them. ``append`` is one commit (group commit,
which batches concurrent writers, happens above the store) and idempotent: a memory whose
key is already stored is skipped, so a write retried after a crash never duplicates.

Size: the shard serves search from its RAM working set up to
``MemoryConfig.working_set_max_rows`` rows (2,000,000 by default, about 2.9 GiB of float32
vectors at 384 dimensions plus the texts). A shard larger than that calls
``ensure_indexes`` and serves from ``vector_search`` (an IVF-HNSW-SQ cosine index) and
``text_search`` (LanceDB's native full-text index) instead.

lancedb is imported in the constructor, never at module import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import numpy as np
import pyarrow as pa

from echoray.config import MemoryConfig
from echoray.errors import ConfigError, NotFoundError, UnprocessableEntityError
from echoray.memory import rows, safe, schemas
from echoray.memory.records import (
    AppendResult,
    ArchivedMemory,
    Experience,
    Link,
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    Page,
    Pattern,
    Turn,
    check_batch,
    check_limit,
    check_limits,
    utc_now,
)

logger = logging.getLogger(__name__)
_PER_USER_TABLES = (
    schemas.MEMORIES,
    schemas.ARCHIVE,
    schemas.LINKS,
    schemas.PATTERNS,
    schemas.EXPERIENCES,
    schemas.SESSIONS,
)

# Candidates fetched per wanted result when metadata is filtered after a LanceDB search.
_OVERFETCH = 4
# With a quantized (SQ) index, re-score this many candidates per result on the full vectors:
# the quantized distances alone are far off (cosine 0.17 read as -0.65 in a test).
_REFINE_FACTOR = 4
_LINK_KEY = ["tenant", "user", "src", "dst", "kind"]
_TURN_KEY = ["tenant", "user", "session", "seq"]
_ID_KEY = ["tenant", "user", "id"]
Owns = Callable[[str, str], bool]


def _describe(schema: pa.Schema) -> str:
    vectors = [
        f"{f.name}: {f.type.list_size} values"
        for f in schema
        if pa.types.is_fixed_size_list(f.type)
    ]
    return ", ".join(vectors) or ", ".join(schema.names)


def _ordering(*columns: tuple[str, bool]) -> list[Any]:
    from lancedb.query import ColumnOrdering

    return [ColumnOrdering(column_name=name, ascending=asc) for name, asc in columns]


class LanceDBStore:
    """Memories, links, experiences, patterns, archive and sessions in LanceDB."""

    def __init__(
        self,
        uri: str,
        dimension: int,
        *,
        limits: MemoryConfig | None = None,
        storage_options: dict[str, str] | None = None,
        read_consistency_interval_s: float | None = None,
    ) -> None:
        """Open (creating when missing) every table at ``uri``.

        Args:
            uri: a folder, or an object-store URI LanceDB understands (``s3://``, ``gs://``).
            dimension: the embedder's vector size.
            limits: batch, text and metadata limits (the defaults of ``MemoryConfig``).
            storage_options: object-store options passed to LanceDB unchanged.
            read_consistency_interval_s: how stale reads may be when other processes write
                the same tables; None reads this process's own view, 0 checks every read.

        Raises:
            ConfigError: a table exists with another schema (vectors of another size).
        """
        import lancedb

        self.uri = uri
        self.dimension = dimension
        self.limits = limits or MemoryConfig()
        interval = (
            None
            if read_consistency_interval_s is None
            else timedelta(seconds=read_consistency_interval_s)
        )
        self._db = lancedb.connect(
            uri, storage_options=storage_options, read_consistency_interval=interval
        )
        self._tables: dict[str, Any] = {
            name: self._open(name, schema)
            for name, schema in schemas.all_schemas(dimension).items()
        }

    def refresh(self, *names: str) -> None:
        """Read the latest version of the named tables (all when none is named) from now
        on: what other processes committed since this store last wrote or refreshed."""
        for name in names or tuple(self._tables):
            self._tables[name].checkout_latest()

    def _open(self, name: str, schema: pa.Schema) -> Any:
        try:
            return self._db.create_table(name, schema=schema, exist_ok=True)
        except ValueError as exc:  # the table exists with another schema
            found = self._db.open_table(name).schema
            raise ConfigError(
                f"{self.uri}: table {name!r} does not have the schema this echoray writes "
                f"(vector size {self.dimension}); it holds {_describe(found)}. Use the "
                "embedder the data was written with, or another storage.uri"
            ) from exc

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

    # --- links -----------------------------------------------------------------------

    def add_links(self, links: Sequence[Link], *, known_new: bool = False) -> int:
        """Store links (one commit); a link already stored is skipped. Returns how many
        were new.

        Args:
            known_new: the caller knows none of ``links`` is stored yet (the links of
                memories it just inserted), so they are appended without the join that
                skips stored ones.

        Raises:
            PayloadTooLargeError: more links than ``max_batch``.
        """
        if not links:
            return 0
        check_batch(len(links), self.limits, "links")
        unique = {(k.tenant, k.user, k.src, k.dst, k.kind): k for k in links}
        table = rows.links_table(list(unique.values()))
        if known_new:
            self._tables[schemas.LINKS].add(table)
            return len(unique)
        result = (
            self._tables[schemas.LINKS]
            .merge_insert(_LINK_KEY)
            .when_not_matched_insert_all()
            .execute(table)
        )
        return int(result.num_inserted_rows)

    def list_links(self, tenant: str, user: str, ids: Sequence[str] | None = None) -> list[Link]:
        """Links of one user, or only those touching ``ids``.

        Raises:
            UnprocessableEntityError: malformed tenant, user or ids.
        """
        where = (
            safe.where_links_touching(tenant, user, ids) if ids else safe.where_scope(tenant, user)
        )
        return rows.links_from(self._tables[schemas.LINKS].search().where(where).to_arrow())

    def scan_links(self, tenant: str | None = None, *, owns: Owns | None = None) -> Iterator[Link]:
        """Every link (of one tenant, or those ``owns`` accepts), to rebuild a link graph."""
        for batch in self._scan(self._tables[schemas.LINKS], tenant, None, 8192):
            for link in rows.links_from(pa.Table.from_batches([batch])):
                if owns is None or owns(link.tenant, link.user):
                    yield link

    # --- archive: forgetting without loss ----------------------------------------------

    def archive(
        self,
        tenant: str,
        user: str,
        ids: Sequence[str],
        reason: str | Mapping[str, str] = "forgotten",
    ) -> list[str]:
        """Move memories to the ``archive`` table; returns the ids moved.

        The copy is committed before the originals are deleted, so a crash in between
        leaves a memory in both tables (archiving again finishes the move), never in none.
        Links are kept, so a restored memory gets its associations back.

        Raises:
            UnprocessableEntityError: malformed tenant, user or ids.
            PayloadTooLargeError: more ids than ``max_batch``.
        """
        found = self.get_many(tenant, user, ids)
        if not found:
            return []
        reasons = [
            (reason if isinstance(reason, str) else reason.get(r.id, "archived"))[:256]
            for r in found
        ]
        table = rows.memories_table(
            found, self.dimension, archived_at=utc_now(), archive_reason=reasons
        )
        self._tables[schemas.ARCHIVE].merge_insert(_ID_KEY).when_not_matched_insert_all().execute(
            table
        )
        moved = [r.id for r in found]
        self._memories.delete(safe.where_ids(tenant, user, moved))
        return moved

    def restore(
        self, tenant: str, user: str, ids: Sequence[str], *, used_at: datetime | None = None
    ) -> list[MemoryRecord]:
        """Move memories back from the archive; returns the restored records.

        ``used_at`` becomes their ``last_accessed``: a restored memory counts as just used,
        so the next forgetting pass does not archive it again at once.

        Raises:
            UnprocessableEntityError: malformed tenant, user or ids.
            PayloadTooLargeError: more ids than ``max_batch``.
        """
        found = self.list_archive(tenant, user, ids=ids)
        if not found:
            return []
        if used_at is not None:
            found = [r.model_copy(update={"last_accessed": used_at}) for r in found]
        table = rows.memories_table(found, self.dimension)
        self._memories.merge_insert(_ID_KEY).when_not_matched_insert_all().execute(table)
        self._tables[schemas.ARCHIVE].delete(safe.where_ids(tenant, user, [r.id for r in found]))
        return found

    def list_archive(
        self, tenant: str, user: str, *, ids: Sequence[str] | None = None, limit: int | None = None
    ) -> list[MemoryRecord]:
        """Archived memories of one user (those of ``ids``, or the ``limit`` most recently
        archived).

        Raises:
            UnprocessableEntityError: malformed tenant, user or ids, or ``limit`` out of range.
        """
        if ids is None:
            entries = self.archive_entries(tenant, user, limit or self.limits.max_limit)
            return [entry.record for entry in entries]
        if not ids:
            return []
        check_batch(len(ids), self.limits, "ids")
        query = self._tables[schemas.ARCHIVE].search().where(safe.where_ids(tenant, user, ids))
        return rows.records_from(query.to_arrow(), self.dimension)

    def archive_entries(self, tenant: str, user: str, limit: int) -> list[ArchivedMemory]:
        """The ``limit`` most recently archived memories of one user, with when and why.

        Raises:
            UnprocessableEntityError: malformed tenant or user, or ``limit`` out of range.
        """
        table = (
            self._tables[schemas.ARCHIVE]
            .search()
            .where(safe.where_scope(tenant, user))
            .order_by(_ordering(("archived_at", False), ("id", True)))
            .limit(check_limit(limit, self.limits))
            .to_arrow()
        )
        records = rows.records_from(table, self.dimension)
        return [
            ArchivedMemory(record=record, archived_at=at, reason=reason)
            for record, (at, reason) in zip(records, rows.archive_details(table), strict=True)
        ]

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

    def count_archive(self, tenant: str | None = None, user: str | None = None) -> int:
        """Archived memories, of everyone, of one tenant, or of one user."""
        table = self._tables[schemas.ARCHIVE]
        if tenant is None:
            return int(table.count_rows())
        return int(table.count_rows(safe.where_scope(tenant, user)))

    def scan_archive_ids(self) -> Iterator[tuple[str, str, str]]:
        """(tenant, user, id) of every archived memory (for consistency checks)."""
        for batch in self._tables[schemas.ARCHIVE].search().select(_ID_KEY).to_batches():
            yield from zip(*(batch.column(c).to_pylist() for c in _ID_KEY), strict=True)

    def scan_memory_ids(self) -> Iterator[tuple[str, str, str]]:
        """(tenant, user, id) of every memory (for consistency checks)."""
        for batch in self._memories.search().select(_ID_KEY).to_batches():
            yield from zip(*(batch.column(c).to_pylist() for c in _ID_KEY), strict=True)

    def compact(self, keep_versions_s: float) -> int:
        """Compact every table's files, create the per-user scalar indexes where missing,
        fold new rows into the indexes and drop versions older than ``keep_versions_s``;
        returns how many tables were compacted."""
        keep = timedelta(seconds=keep_versions_s)
        self.ensure_scalar_indexes()
        for table in self._tables.values():
            table.optimize(cleanup_older_than=keep)
        return len(self._tables)

    def ensure_scalar_indexes(self) -> None:
        """A B-tree on ``user`` of every table a shard reads one user's rows from: without
        it each such read (a user's memories by id, the archive move, the patterns) scans
        the whole table, so consolidating every user would cost users x table size. Rows
        added after the index are scanned too until ``compact`` folds them in."""
        from lancedb.index import BTree

        for name in _PER_USER_TABLES:
            table = self._tables[name]
            indexed = {tuple(index.columns) for index in table.list_indices()}
            if ("user",) not in indexed and table.count_rows() > 0:
                table.create_index("user", config=BTree())

    # --- experiences and patterns ------------------------------------------------------

    def append_experiences(self, experiences: Sequence[Experience]) -> int:
        """Store experiences (one commit, idempotent by id); returns how many were new.

        Raises:
            PayloadTooLargeError: more than ``max_batch``.
        """
        check_batch(len(experiences), self.limits, "experiences")
        result = (
            self._tables[schemas.EXPERIENCES]
            .merge_insert(_ID_KEY)
            .when_not_matched_insert_all()
            .execute(rows.experiences_table(experiences))
        )
        return int(result.num_inserted_rows)

    def list_experiences(self, tenant: str, user: str, limit: int = 100) -> list[Experience]:
        """The ``limit`` most recent experiences of one user, newest first.

        Raises:
            UnprocessableEntityError: malformed tenant or user.
        """
        table = (
            self._tables[schemas.EXPERIENCES]
            .search()
            .where(safe.where_scope(tenant, user))
            .order_by(_ordering(("created_at", False), ("id", True)))
            .limit(max(1, int(limit)))
            .to_arrow()
        )
        return rows.experiences_from(table)

    def get_experience(self, tenant: str, experience_id: str) -> Experience:
        """One experience of a tenant by id (the request id of the exchange). Another
        process (another shard) may have written it since this store last looked, so a
        miss looks again at the table's latest version.

        Raises:
            NotFoundError: no such experience for this tenant.
            UnprocessableEntityError: a malformed tenant or id.
        """
        where = safe.where_tenant_id(tenant, experience_id, "request_id")
        table = self._tables[schemas.EXPERIENCES]
        found = rows.experiences_from(table.search().where(where).limit(1).to_arrow())
        if not found:
            self.refresh(schemas.EXPERIENCES)
            found = rows.experiences_from(table.search().where(where).limit(1).to_arrow())
        if not found:
            raise NotFoundError(
                f"no chat exchange with request id {experience_id!r} is recorded for this "
                "tenant (feedback needs a chat that named a `user`)",
                param="request_id",
            )
        return found[0]

    def set_experience_feedback(self, experience: Experience) -> None:
        """Store an experience's feedback and metadata (one commit; the row must exist)."""
        (
            self._tables[schemas.EXPERIENCES]
            .merge_insert(_ID_KEY)
            .when_matched_update_all()
            .execute(rows.experiences_table([experience]))
        )

    def upsert_patterns(self, patterns: Sequence[Pattern]) -> None:
        """Insert or replace patterns by id (one commit).

        Raises:
            PayloadTooLargeError: more than ``max_batch``.
            UnprocessableEntityError: a centroid of the wrong dimension.
        """
        check_batch(len(patterns), self.limits, "patterns")
        for pattern in patterns:
            if pattern.centroid.shape != (self.dimension,):
                raise UnprocessableEntityError(
                    f"pattern centroid must have {self.dimension} values", param="centroid"
                )
        (
            self._tables[schemas.PATTERNS]
            .merge_insert(_ID_KEY)
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(rows.patterns_table(patterns, self.dimension))
        )

    def replace_patterns(self, tenant: str, user: str, patterns: Sequence[Pattern]) -> None:
        """Make ``patterns`` the user's patterns: upsert them, then drop the others (a
        crash in between leaves old and new, never none)."""
        if patterns:
            self.upsert_patterns(patterns)
        where = safe.where_scope(tenant, user)
        if patterns:
            keep = safe.where_ids(tenant, user, [p.id for p in patterns])
            where = safe.combine(where, f"NOT ({keep})")
        self._tables[schemas.PATTERNS].delete(where)

    def scan_archive(self, *, owns: Owns | None = None) -> Iterator[MemoryRecord]:
        """Every archived memory (or those ``owns`` accepts)."""
        for batch in self._scan(self._tables[schemas.ARCHIVE], None, None, 4096):
            for record in rows.records_from(pa.Table.from_batches([batch]), self.dimension):
                if owns is None or owns(record.tenant, record.user):
                    yield record

    def scan_turns(self, *, owns: Owns | None = None) -> Iterator[Turn]:
        """Every session turn (or those ``owns`` accepts), for promotion."""
        for batch in self._scan(self._tables[schemas.SESSIONS], None, None, 8192):
            for turn in rows.turns_from(pa.Table.from_batches([batch])):
                if owns is None or owns(turn.tenant, turn.user):
                    yield turn

    def scan_experiences(self, *, owns: Owns | None = None) -> Iterator[Experience]:
        """Every experience (or those ``owns`` accepts), for pattern learning."""
        for batch in self._scan(self._tables[schemas.EXPERIENCES], None, None, 8192):
            for experience in rows.experiences_from(pa.Table.from_batches([batch])):
                if owns is None or owns(experience.tenant, experience.user):
                    yield experience

    def list_patterns(self, tenant: str, user: str) -> list[Pattern]:
        """Every pattern of one user.

        Raises:
            UnprocessableEntityError: malformed tenant or user.
        """
        table = self._tables[schemas.PATTERNS].search().where(safe.where_scope(tenant, user))
        return rows.patterns_from(table.to_arrow(), self.dimension)

    # --- sessions: short-term memory ---------------------------------------------------

    def append_turns(self, turns: Sequence[Turn]) -> None:
        """Store session turns (one commit, idempotent by (session, seq)).

        Raises:
            PayloadTooLargeError: more than ``max_batch``.
        """
        check_batch(len(turns), self.limits, "turns")
        (
            self._tables[schemas.SESSIONS]
            .merge_insert(_TURN_KEY)
            .when_not_matched_insert_all()
            .execute(rows.turns_table(turns))
        )

    def recent_turns(self, tenant: str, user: str, session: str, limit: int) -> list[Turn]:
        """The last ``limit`` turns of a session, oldest first.

        Raises:
            UnprocessableEntityError: malformed tenant, user or session.
        """
        table = (
            self._tables[schemas.SESSIONS]
            .search()
            .where(safe.where_session_turns(tenant, user, session))
            .order_by(_ordering(("seq", False)))
            .limit(max(1, int(limit)))
            .to_arrow()
        )
        return sorted(rows.turns_from(table), key=lambda turn: turn.seq)

    def trim_turns(self, tenant: str, user: str, session: str, seq_below: int) -> int:
        """Delete a session's turns older than ``seq_below``; returns how many.

        Raises:
            UnprocessableEntityError: malformed tenant, user or session.
        """
        where = safe.where_session_turns(tenant, user, session, seq_below=seq_below)
        return int(self._tables[schemas.SESSIONS].delete(where).num_deleted_rows)

    def delete_session(self, tenant: str, user: str, session: str) -> int:
        """Delete a session's short-term memory; returns how many turns went.

        Raises:
            UnprocessableEntityError: malformed tenant, user or session.
        """
        where = safe.where_session_turns(tenant, user, session)
        return int(self._tables[schemas.SESSIONS].delete(where).num_deleted_rows)

    # --- internals -----------------------------------------------------------------

    @property
    def _memories(self) -> Any:
        return self._tables[schemas.MEMORIES]

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

    def _scan(
        self, table: Any, tenant: str | None, users: Sequence[str] | None, batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        query = table.search()
        if tenant is not None:
            query = query.where(
                safe.where_users(tenant, users) if users else safe.where_scope(tenant)
            )
        reader = query.to_batches(batch_size=batch_size)
        yield from reader
