"""The ``experiences`` table: one row per served exchange, with feedback (memory layer)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa

from echoray.errors import NotFoundError
from echoray.memory import rows, safe, schemas
from echoray.memory.limits import check_batch
from echoray.memory.records import (
    Experience,
)
from echoray.memory.store.base import _ID_KEY, Owns, TableStore, _ordering


class ExperienceTable(TableStore):
    """The ``experiences`` table: one row per served exchange."""

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

    def scan_experiences(self, *, owns: Owns | None = None) -> Iterator[Experience]:
        """Every experience (or those ``owns`` accepts), for pattern learning."""
        for batch in self._scan(self._tables[schemas.EXPERIENCES], None, None, 8192):
            for experience in rows.experiences_from(pa.Table.from_batches([batch])):
                if owns is None or owns(experience.tenant, experience.user):
                    yield experience
