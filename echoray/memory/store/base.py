"""The LanceDB connection every table of the store shares (memory layer, storage)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pyarrow as pa

from echoray.config import MemoryConfig
from echoray.errors import ConfigError
from echoray.memory import safe, schemas

logger = logging.getLogger(__name__)
_PER_USER_TABLES = (
    schemas.MEMORIES,
    schemas.ARCHIVE,
    schemas.LINKS,
    schemas.PATTERNS,
    schemas.EXPERIENCES,
    schemas.SESSIONS,
)
Owns = Callable[[str, str], bool]
_ID_KEY = ["tenant", "user", "id"]


def _ordering(*columns: tuple[str, bool]) -> list[Any]:
    from lancedb.query import ColumnOrdering

    return [ColumnOrdering(column_name=name, ascending=asc) for name, asc in columns]


def _describe(schema: pa.Schema) -> str:
    vectors = [
        f"{f.name}: {f.type.list_size} values"
        for f in schema
        if pa.types.is_fixed_size_list(f.type)
    ]
    return ", ".join(vectors) or ", ".join(schema.names)


class TableStore:
    """The LanceDB connection and its tables; each table's methods live in a module of
    this package (``memories``, ``links``, ``archive``, ``experiences``, ``patterns``,
    ``turns``), and ``LanceDBStore`` combines them."""

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

    # --- internals -----------------------------------------------------------------

    @property
    def _memories(self) -> Any:
        return self._tables[schemas.MEMORIES]

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
