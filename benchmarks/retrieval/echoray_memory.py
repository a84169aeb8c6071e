"""echoray's own memory search as a retriever, measured against the two baselines.

Each sample gets a fresh ``MemoryShardCore`` over its own LanceDB folder (a temporary
directory, removed when the next sample is indexed and at exit), so the real write path
runs, as the evaluation protocol writes through the HTTP API: every turn becomes a
``MemoryRecord`` of one user, with its session (``session-3``), its session's date as
``created_at`` and its dia id in ``metadata``; vectors are all-MiniLM-L6-v2 embeddings
(echoray's ``MiniLMEmbedder``). Each session is written with one ``add`` call, in order, so
the core makes its temporal and neighbour links as it would in service. A query is embedded
as the memory service embeds it (the user's speakers' names replaced by "they") and
answered by ``MemoryShardCore.search`` with the default ``MemoryConfig``; query latency
includes the embedding, as for the dense baseline. Memory ids are the dia ids, as the
evaluate job writes them (ties in score are broken by id, so both rank alike).
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from echoray.evaluation.locomo import (
    TURN_SPACING_S,
    UNDATED_EPOCH,
    UNDATED_SESSION_GAP,
    Memory,
    session_times,
)

if TYPE_CHECKING:
    from echoray.config import MemoryConfig
    from echoray.memory.core import MemoryShardCore
    from echoray.memory.records import MemoryRecord

__all__ = [
    "TURN_SPACING_S",
    "UNDATED_EPOCH",
    "UNDATED_SESSION_GAP",
    "EchoRayRetriever",
    "make_echoray_retriever",
    "session_times",
]

TENANT = "bench"
USER = "locomo-user"


class EchoRayRetriever:
    """``MemoryShardCore`` search over one sample's memories; see the module docstring."""

    name = "echoray"

    def __init__(
        self,
        embedder: Any,
        config: MemoryConfig | None = None,
        *,
        turn_spacing_s: float = TURN_SPACING_S,
    ) -> None:
        from echoray.config import MemoryConfig

        self._embedder = embedder
        self._config = config or MemoryConfig()
        self._turn_spacing_s = turn_spacing_s
        self._root = Path(tempfile.mkdtemp(prefix="echoray-retrieval-"))
        atexit.register(shutil.rmtree, self._root, ignore_errors=True)
        self._samples = itertools.count()
        self._folder: Path | None = None
        self._core: MemoryShardCore | None = None

    @property
    def device(self) -> str:
        """Where the embedding model runs (``MiniLMEmbedder`` is CPU only)."""
        model = getattr(self._embedder, "_model", None)
        return str(getattr(model, "device", "cpu"))

    def _records(self, memories: Sequence[Memory]) -> list[MemoryRecord]:
        from echoray.memory.records import MemoryRecord

        vectors = self._embedder.embed([memory.text for memory in memories])
        times = session_times(memories, self._turn_spacing_s)
        return [
            MemoryRecord.build(
                id=memory.id,
                tenant=TENANT,
                user=USER,
                session=f"session-{memory.session}",
                text=memory.text,
                metadata={"dia_id": memory.id},
                vector=vectors[position],
                created_at=times[position],
            )
            for position, memory in enumerate(memories)
        ]

    async def _write(self, core: MemoryShardCore, records: list[MemoryRecord]) -> None:
        step = self._config.max_batch
        for _, grouped in itertools.groupby(records, key=lambda record: record.session):
            session = list(grouped)
            for start in range(0, len(session), step):
                await core.add(TENANT, USER, session[start : start + step])
        await core.close()

    def index(self, memories: Sequence[Memory]) -> None:
        """Write one sample's memories into a fresh core, replacing the previous one."""
        from echoray.memory.core import MemoryShardCore
        from echoray.memory.store import LanceDBStore

        self._drop()
        if not memories:
            return
        self._folder = self._root / f"sample-{next(self._samples)}"
        store = LanceDBStore(str(self._folder), self._embedder.dimension, limits=self._config)
        core = MemoryShardCore(store, self._config)
        asyncio.run(self._write(core, self._records(memories)))
        self._core = core

    def search(self, query: str, k: int) -> list[str]:
        """Dia ids of the k memories ``MemoryShardCore.search`` ranks best for ``query``."""
        from echoray.memory.query import embedding_text
        from echoray.memory.records import MemoryFilter

        if self._core is None or k < 1:
            return []
        speakers = self._core.speakers(TENANT, USER)
        vector = self._embedder.embed([embedding_text(query, speakers)])[0]
        hits = self._core.search(TENANT, USER, MemoryFilter(user=USER), vector, query, k)
        return [hit.id for hit in hits]

    def _drop(self) -> None:
        self._core = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def make_echoray_retriever() -> EchoRayRetriever:
    """Factory for the retriever registry: loads MiniLM (a few seconds on CPU)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from echoray.embeddings.minilm import MiniLMEmbedder

    return EchoRayRetriever(MiniLMEmbedder())
