"""The ``sessions`` table: short-term memory (memory layer, storage)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa

from echoray.memory import rows, safe, schemas
from echoray.memory.limits import check_batch
from echoray.memory.records import (
    Turn,
)
from echoray.memory.store.base import Owns, TableStore, _ordering

_TURN_KEY = ["tenant", "user", "session", "seq"]


class TurnTable(TableStore):
    """The ``sessions`` table: short-term memory, the recent turns of each session."""

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

    def scan_turns(self, *, owns: Owns | None = None) -> Iterator[Turn]:
        """Every session turn (or those ``owns`` accepts), for promotion."""
        for batch in self._scan(self._tables[schemas.SESSIONS], None, None, 8192):
            for turn in rows.turns_from(pa.Table.from_batches([batch])):
                if owns is None or owns(turn.tenant, turn.user):
                    yield turn
