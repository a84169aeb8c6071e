"""The ``archive`` table: forgotten and merged memories, restorable (memory layer, storage)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import pyarrow as pa

from echoray.memory import rows, safe, schemas
from echoray.memory.limits import check_batch, check_limit
from echoray.memory.records import (
    ArchivedMemory,
    MemoryRecord,
    utc_now,
)
from echoray.memory.store.base import _ID_KEY, Owns, _ordering
from echoray.memory.store.memories import MemoryTable


class ArchiveTable(MemoryTable):
    """The ``archive`` table: forgetting without loss."""

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

    def scan_archive(self, *, owns: Owns | None = None) -> Iterator[MemoryRecord]:
        """Every archived memory (or those ``owns`` accepts)."""
        for batch in self._scan(self._tables[schemas.ARCHIVE], None, None, 4096):
            for record in rows.records_from(pa.Table.from_batches([batch]), self.dimension):
                if owns is None or owns(record.tenant, record.user):
                    yield record
