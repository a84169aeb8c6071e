"""The ``patterns`` table: learned request patterns (memory layer, storage)."""

from __future__ import annotations

from collections.abc import Sequence

from echoray.errors import UnprocessableEntityError
from echoray.memory import rows, safe, schemas
from echoray.memory.limits import check_batch
from echoray.memory.records import (
    Pattern,
)
from echoray.memory.store.base import _ID_KEY, TableStore


class PatternTable(TableStore):
    """The ``patterns`` table: learned clusters of a user's requests."""

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

    def list_patterns(self, tenant: str, user: str) -> list[Pattern]:
        """Every pattern of one user.

        Raises:
            UnprocessableEntityError: malformed tenant or user.
        """
        table = self._tables[schemas.PATTERNS].search().where(safe.where_scope(tenant, user))
        return rows.patterns_from(table.to_arrow(), self.dimension)
