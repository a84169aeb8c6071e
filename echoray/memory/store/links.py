"""The ``links`` table: the memory graph (memory layer, storage)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa

from echoray.memory import rows, safe, schemas
from echoray.memory.limits import check_batch
from echoray.memory.records import (
    Link,
)
from echoray.memory.store.base import Owns, TableStore

_LINK_KEY = ["tenant", "user", "src", "dst", "kind"]


class LinkTable(TableStore):
    """The ``links`` table: the memory graph."""

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
