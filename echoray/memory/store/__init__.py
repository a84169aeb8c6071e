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

from echoray.memory.records import AppendResult
from echoray.memory.store.archive import ArchiveTable
from echoray.memory.store.base import Owns
from echoray.memory.store.experiences import ExperienceTable
from echoray.memory.store.links import LinkTable
from echoray.memory.store.patterns import PatternTable
from echoray.memory.store.turns import TurnTable

__all__ = ["AppendResult", "LanceDBStore", "Owns"]


class LanceDBStore(ArchiveTable, LinkTable, ExperienceTable, PatternTable, TurnTable):
    """Memories, links, experiences, patterns, archive and sessions in LanceDB: one
    connection, the methods of each table from its own module."""
