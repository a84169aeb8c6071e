"""The RAM working set of one shard: exact dense and BM25 search (memory layer, search).

Layout: the vectors live in one contiguous matrix (float32, or float16 to halve RAM) that
grows by doubling; parallel numpy arrays hold the fields filters use (tenant, user and
session as interned integer codes, kind as a small code, created_at in microseconds); a
removed row is filled by the last row (swap-with-last), so rows stay dense. Each memory
also has a stable document number, used by the BM25 index and the metadata index, which
never moves.

Search narrows rows with numpy masks (owner, session, kinds, time range, metadata through
an inverted index) and scores them with one matrix-vector product. Each row also keeps its
speaker and whether it says when (``echoray.memory.rank`` reads them); the BM25 index
holds the text without the speaker's prefix. Caller data never becomes SQL here.

Budget: at most ``max_rows`` rows (``MemoryConfig.working_set_max_rows``); beyond that
``upsert`` refuses with 503 ``working_set_full`` and the shard serves from LanceDB's
vector index (``LanceDBStore.vector_search``). Besides the vectors, each row keeps its text
and metadata in RAM to build results without a LanceDB read.

Not thread-safe: one shard (one actor) owns a working set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np

from echoray.errors import ServiceUnavailableError, UnprocessableEntityError
from echoray.memory.conversation import Speakers, previous_docs, session_order
from echoray.memory.lexical import OwnerIndexes, top_with_ties
from echoray.memory.records import MemoryFilter, MemoryRecord, SearchHit, Why
from echoray.memory.safe import to_micros
from echoray.memory.scan import candidate_scores, exact_scores, load_kernel
from echoray.memory.schemas import MEMORY_KINDS
from echoray.memory.speakers import split_speaker
from echoray.memory.timewords import mentions_time
from echoray.memory.working_rows import (
    SCALAR_FIELDS,
    Entry,
    Interner,
    Key,
    MetadataIndex,
    Ranked,
)

_NO_SESSION = -1
_NEAREST_BLOCK = 4096  # rows scored per matrix product in nearest_many
# The per-row arrays beside the vectors (grown and moved together).
_ROW_FIELDS = (
    "_tenant",
    "_user",
    "_session",
    "_kind",
    "_created",
    "_speaker",
    "_says_when",
    "_row_doc",
)


class WorkingSet:
    """Exact search over the memories one shard holds in RAM."""

    def __init__(
        self,
        dimension: int,
        *,
        max_rows: int = 2_000_000,
        dtype: Literal["float32", "float16"] = "float32",
        initial_rows: int = 1024,
        bm25: tuple[float, float] = (1.2, 0.5),
    ) -> None:
        self.dimension = dimension
        self.max_rows = max_rows
        self._dtype = np.dtype(dtype)
        load_kernel(self._dtype)  # import torch now for float16, not on the first search
        capacity = max(1, min(initial_rows, max_rows))
        self._size = 0
        self._vectors = np.zeros((capacity, dimension), dtype=self._dtype)
        self._tenant = np.zeros(capacity, dtype=np.int32)
        self._user = np.zeros(capacity, dtype=np.int32)
        self._session = np.zeros(capacity, dtype=np.int32)
        self._kind = np.zeros(capacity, dtype=np.int8)
        self._created = np.zeros(capacity, dtype=np.int64)
        self._speaker = np.zeros(capacity, dtype=np.int32)
        self._says_when = np.zeros(capacity, dtype=bool)
        self._row_doc = np.zeros(capacity, dtype=np.int64)
        self._doc_row = np.full(capacity, -1, dtype=np.int64)
        self._next_doc = 0
        self._tenants = Interner()
        self._users = Interner()
        self._sessions = Interner()
        self._speakers = Speakers()
        self._key_doc: dict[Key, int] = {}
        self._entries: dict[int, Entry] = {}
        self._metadata_index = MetadataIndex()
        self._lexical = OwnerIndexes(k1=bm25[0], b=bm25[1])
        self._owner_rows: dict[tuple[int, int], np.ndarray] = {}
        self._owner_previous: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    # --- size ----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return key in self._key_doc

    @property
    def nbytes(self) -> int:
        """RAM held by the matrix and the filter arrays (texts and metadata not counted)."""
        return sum(getattr(self, name).nbytes for name in ("_vectors", *_ROW_FIELDS))

    def fits(self, extra: int) -> bool:
        """Whether ``extra`` more rows stay within ``max_rows``."""
        return self._size + extra <= self.max_rows

    # --- writes --------------------------------------------------------------------

    def upsert(self, records: Sequence[MemoryRecord]) -> None:
        """Add memories, replacing any with the same (tenant, user, id).

        Raises:
            UnprocessableEntityError: a vector of the wrong dimension (nothing is added).
            ServiceUnavailableError: the rows would exceed ``max_rows``
                (``code`` ``working_set_full``; nothing is added).
        """
        for record in records:
            if record.vector.shape != (self.dimension,):
                raise UnprocessableEntityError(
                    f"vector has {record.vector.shape[0]} values; expected {self.dimension}",
                    param="vector",
                )
        new_keys = {r.key for r in records if r.key not in self._key_doc}
        if not self.fits(len(new_keys)):
            raise ServiceUnavailableError(
                f"the working set holds {self._size} of {self.max_rows} rows; this shard "
                "must serve from the LanceDB vector index",
                code="working_set_full",
            )
        for record in records:
            doc = self._key_doc.get(record.key)
            if doc is not None:
                self._remove_doc(doc)
            self._add(record)

    def remove(self, tenant: str, user: str, ids: Iterable[str]) -> int:
        """Forget memories of one user; returns how many were held."""
        docs = [self._key_doc.get((tenant, user, i)) for i in dict.fromkeys(ids)]
        for doc in docs:
            if doc is not None:
                self._remove_doc(doc)
        return sum(doc is not None for doc in docs)

    def remove_user(self, tenant: str, user: str) -> int:
        """Forget every memory of one user; returns how many."""
        ids = [key[2] for key in self._key_doc if key[0] == tenant and key[1] == user]
        return self.remove(tenant, user, ids)

    def load(self, records: Iterable[MemoryRecord], chunk: int = 4096) -> int:
        """Add memories from an iterator (a store scan) in chunks; returns how many."""
        added = 0
        batch: list[MemoryRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) == chunk:
                self.upsert(batch)
                added, batch = added + len(batch), []
        if batch:
            self.upsert(batch)
            added += len(batch)
        return added

    # --- reads ---------------------------------------------------------------------

    def vector(self, tenant: str, user: str, memory_id: str) -> np.ndarray | None:
        """The stored vector of one memory (float32), or None."""
        doc = self._key_doc.get((tenant, user, memory_id))
        if doc is None:
            return None
        return np.array(self._vectors[self._doc_row[doc]], dtype=np.float32)  # a copy: rows move

    def record(self, tenant: str, user: str, memory_id: str) -> MemoryRecord | None:
        """The whole record of one memory held here (its vector as stored), or None."""
        doc = self._key_doc.get((tenant, user, memory_id))
        if doc is None:
            return None
        entry = self._entries[doc]
        return MemoryRecord.model_construct(  # built from a validated record: no re-check
            id=memory_id,
            tenant=tenant,
            user=user,
            session=entry.session,
            kind=entry.kind,  # type: ignore[arg-type]
            text=entry.text,
            vector=np.array(self._vectors[self._doc_row[doc]], dtype=np.float32),
            created_at=entry.created_at,
            metadata=entry.metadata,
            **entry.fields,
        )

    def touch(self, tenant: str, user: str, ids: Iterable[str], at: datetime) -> None:
        """Count one more access of each memory held here (mirrors ``LanceDBStore.touch``)."""
        for memory_id in dict.fromkeys(ids):
            doc = self._key_doc.get((tenant, user, memory_id))
            if doc is not None:
                fields = self._entries[doc].fields
                fields["access_count"] += 1
                fields["last_accessed"] = at

    def ids(self, tenant: str, user: str) -> list[str]:
        """Ids of one user's memories held here."""
        return [self._entries[int(self._row_doc[r])].key[2] for r in self._rows_of(tenant, user)]

    def allowed_ids(self, tenant: str, flt: MemoryFilter, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that exist here and pass ``flt``."""
        docs = {i: self._key_doc.get((tenant, flt.user, i)) for i in ids}
        rows = np.array([self._doc_row[d] for d in docs.values() if d is not None], np.int64)
        allowed = {int(self._row_doc[r]) for r in self._filtered_rows(flt, rows)}
        return {i for i, doc in docs.items() if doc is not None and doc in allowed}

    def hit(self, tenant: str, user: str, memory_id: str, score: float, why: Why) -> SearchHit:
        """A search result for one memory held here.

        Raises:
            KeyError: the memory is not held here.
        """
        entry = self._entries[self._key_doc[(tenant, user, memory_id)]]
        return SearchHit(
            id=memory_id,
            text=entry.text,
            score=score,
            kind=entry.kind,  # type: ignore[arg-type]
            session=entry.session,
            created_at=entry.created_at,
            metadata=entry.metadata,
            why=why,
        )

    def dense_search(
        self, tenant: str, flt: MemoryFilter, query: np.ndarray, limit: int
    ) -> list[Ranked]:
        """The ``limit`` memories passing ``flt`` with the highest cosine to ``query`` (best
        first; equal scores in id order, so a rebuilt working set answers the same).

        Raises:
            UnprocessableEntityError: ``query`` is not a finite vector of ``dimension``.
        """
        vector = self.unit_query(query)
        rows = self.search_rows(tenant, flt)
        if vector is None or limit <= 0 or len(rows) == 0:
            return []
        picked, scores, _ = self.dense_scan(rows, vector, limit)
        ids = self.row_fields(picked)["id"]
        ranked = sorted(zip(ids, map(float, scores), strict=True), key=lambda i: (-i[1], i[0]))
        return [Ranked(i, score, rank) for rank, (i, score) in enumerate(ranked[:limit], 1)]

    def unit_query(self, query: np.ndarray) -> np.ndarray | None:
        """``query`` scaled to unit length (a float32 copy); None for the zero vector.

        Raises:
            UnprocessableEntityError: ``query`` is not a finite vector of ``dimension``.
        """
        vector = np.array(query, dtype=np.float32).reshape(-1)
        if vector.shape != (self.dimension,) or not np.all(np.isfinite(vector)):
            raise UnprocessableEntityError(
                f"query vector must be {self.dimension} finite numbers", param="vector"
            )
        norm = float(np.linalg.norm(vector))
        return None if norm == 0.0 else vector / norm

    def nearest_many(
        self, tenant: str, user: str, vectors: np.ndarray, k: int
    ) -> list[list[tuple[str, float]]]:
        """For each row of ``vectors`` (unit length), the ``k`` memories of one user with the
        highest cosine, best first, equal scores in id order: ``dense_search`` without
        filters for many queries at once, one matrix product per block of rows (the
        neighbour links of a written batch)."""
        queries = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        rows = self._rows_of(tenant, user)
        found: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
        if k > 0:
            for start in range(0, len(rows), _NEAREST_BLOCK):
                block = rows[start : start + _NEAREST_BLOCK]
                scores = self._vectors[block].astype(np.float32, copy=False) @ queries.T
                for column, hits in zip(scores.T, found, strict=True):
                    hits += [(float(column[i]), int(block[i])) for i in top_with_ties(column, k)]
        return [
            sorted(
                ((self._entries[int(self._row_doc[row])].key[2], score) for score, row in hits),
                key=lambda item: (-item[1], item[0]),
            )[:k]
            for hits in found
        ]

    def lexical_search(
        self, tenant: str, flt: MemoryFilter, query: str, limit: int
    ) -> list[Ranked]:
        """The ``limit`` memories passing ``flt`` that best match ``query`` by BM25."""
        rows = self._filtered_rows(flt, self._rows_of(tenant, flt.user))
        if len(rows) == 0:
            return []
        owner = self._owner(tenant, flt.user)
        keep = self._keep_rows(rows)
        matches = self._lexical.search(owner, query, limit, keep, tie_key=self._id_of)
        return [
            Ranked(self._entries[m.doc].key[2], m.score, rank)
            for rank, m in enumerate(matches, start=1)
        ]

    def _id_of(self, doc: int) -> str:
        return self._entries[doc].key[2]

    # --- rows, for ranking (``echoray.memory.candidates``) ------------------------------

    def speakers(self, tenant: str, user: str) -> list[str]:
        """The speakers of one user's memories held here, most memories first."""
        return self._speakers.of(self._owner(tenant, user))

    def search_rows(self, tenant: str, flt: MemoryFilter) -> np.ndarray:
        """Rows a search with ``flt`` may return."""
        return self._filtered_rows(flt, self._rows_of(tenant, flt.user))

    def dense_scan(
        self, rows: np.ndarray, query: np.ndarray, depth: int
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """The ``depth`` (or more, tied) of ``rows`` most similar to ``query`` (a unit
        vector), their exact cosines, and the mean and deviation over all ``rows``."""
        positions, scores, moments = candidate_scores(self._vectors, self._size, rows, query, depth)
        picked = top_with_ties(scores, depth)
        return rows[positions[picked]], scores[picked], moments

    def dense_scores(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Exact cosines of ``rows`` with ``query`` (a unit vector)."""
        return exact_scores(self._vectors, self._size, rows, query)

    def lexical_scores(
        self, tenant: str, user: str, rows: np.ndarray, terms: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, scores)`` of those of one user's ``rows`` holding a query term, by BM25."""
        owner = self._owner(tenant, user)
        docs, scores = self._lexical.scores(owner, terms, self._keep_rows(rows))
        return self._doc_row[docs], scores

    def _keep_rows(self, rows: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Given document numbers, which of them are (live and) among ``rows``."""
        allowed = np.zeros(self._size, dtype=bool)
        allowed[rows] = True

        def keep(docs: np.ndarray) -> np.ndarray:
            where = self._doc_row[docs]
            ok = where >= 0
            ok[ok] = allowed[where[ok]]
            return ok

        return keep

    def row_fields(self, rows: np.ndarray) -> dict[str, Any]:
        """Per row: ``id``, ``speaker``, ``session`` code, ``created`` (us), ``says_when``."""
        entries = [self._entries[int(doc)] for doc in self._row_doc[rows]]
        return {
            "id": [entry.key[2] for entry in entries],
            "speaker": [entry.speaker for entry in entries],
            "session": self._session[rows],
            "created": self._created[rows],
            "says_when": self._says_when[rows],
        }

    def previous_rows(self, tenant: str, user: str, rows: np.ndarray) -> np.ndarray:
        """For each of ``rows``, the row written just before it in its session (by
        ``created_at``, then by write order), or -1."""
        owner = self._owner(tenant, user)
        if owner is None or len(rows) == 0:
            return np.full(len(rows), -1, dtype=np.int64)
        order = self._owner_previous.get(owner)
        if order is None:
            owned = self._rows_of(tenant, user)
            order = self._owner_previous[owner] = session_order(
                self._row_doc[owned], self._session[owned], self._created[owned], _NO_SESSION
            )
        previous = previous_docs(order, self._row_doc[rows])
        return np.where(previous >= 0, self._doc_row[np.maximum(previous, 0)], -1)

    def _owner(self, tenant: str, user: str) -> tuple[int, int] | None:
        tenant_code, user_code = self._tenants.find(tenant), self._users.find(user)
        return None if tenant_code is None or user_code is None else (tenant_code, user_code)

    def _forget_order(self, owner: tuple[int, int]) -> None:
        self._owner_rows.pop(owner, None)
        self._owner_previous.pop(owner, None)

    # --- internals -------------------------------------------------------------------

    def _rows_of(self, tenant: str, user: str) -> np.ndarray:
        owner = self._owner(tenant, user)
        if owner is None:
            return np.zeros(0, dtype=np.int64)
        rows = self._owner_rows.get(owner)
        if rows is None:
            n = self._size
            mask = (self._tenant[:n] == owner[0]) & (self._user[:n] == owner[1])
            rows = self._owner_rows[owner] = np.flatnonzero(mask)
        return rows

    def _filtered_rows(self, flt: MemoryFilter, rows: np.ndarray) -> np.ndarray:
        # ``rows`` are the owner's rows already (``_rows_of``, or found by the owner's
        # keys), so only the narrowing filters are applied here.
        if len(rows) == 0:
            return rows
        keep = np.ones(len(rows), dtype=bool)
        if flt.session is not None:
            session_code = self._sessions.find(flt.session)
            keep &= self._session[rows] == (-2 if session_code is None else session_code)
        if flt.kinds:
            codes = [MEMORY_KINDS.index(kind) for kind in flt.kinds]
            keep &= np.isin(self._kind[rows], codes)
        if flt.created_after is not None:
            keep &= self._created[rows] >= to_micros(flt.created_after)
        if flt.created_before is not None:
            keep &= self._created[rows] < to_micros(flt.created_before)
        if flt.metadata:
            keep &= np.isin(rows, self._metadata_rows(flt.metadata))
        return rows if keep.all() else rows[keep]

    def _metadata_rows(self, wanted: dict[str, Any]) -> np.ndarray:
        docs = self._metadata_index.docs(wanted)
        return self._doc_row[np.fromiter(docs, dtype=np.int64, count=len(docs))]

    def _grow(self) -> None:
        capacity = min(2 * len(self._vectors), self.max_rows)
        vectors = np.zeros((capacity, self.dimension), dtype=self._dtype)
        vectors[: self._size] = self._vectors[: self._size]
        self._vectors = vectors
        for name in _ROW_FIELDS:
            setattr(self, name, np.resize(getattr(self, name), capacity))

    def _new_doc(self) -> int:
        doc = self._next_doc
        self._next_doc += 1
        if doc >= len(self._doc_row):
            grown = np.full(2 * len(self._doc_row), -1, dtype=np.int64)
            grown[: len(self._doc_row)] = self._doc_row
            self._doc_row = grown
        return doc

    def _add(self, record: MemoryRecord) -> None:
        if self._size == len(self._vectors):
            self._grow()
        row, doc = self._size, self._new_doc()
        self._vectors[row] = record.vector
        tenant_code = self._tenants.code(record.tenant)
        user_code = self._users.code(record.user)
        self._tenant[row] = tenant_code
        self._user[row] = user_code
        self._session[row] = (
            _NO_SESSION if record.session is None else self._sessions.code(record.session)
        )
        self._kind[row] = MEMORY_KINDS.index(record.kind)
        self._created[row] = to_micros(record.created_at)
        speaker, body = split_speaker(record.text, record.metadata)
        self._speaker[row] = self._speakers.add((tenant_code, user_code), speaker)
        self._says_when[row] = mentions_time(body)
        self._row_doc[row] = doc
        self._doc_row[doc] = row
        self._size += 1
        self._key_doc[record.key] = doc
        self._entries[doc] = Entry(
            record.key,
            record.text,
            speaker,
            record.session,
            record.kind,
            record.created_at,
            record.metadata,
            {name: getattr(record, name) for name in SCALAR_FIELDS},
        )
        self._metadata_index.add(doc, record.metadata)
        self._lexical.add((tenant_code, user_code), doc, body)
        owner = (tenant_code, user_code)
        self._forget_order(owner)

    def _remove_doc(self, doc: int) -> None:
        row, last = int(self._doc_row[doc]), self._size - 1
        entry = self._entries.pop(doc)
        del self._key_doc[entry.key]
        owner = (int(self._tenant[row]), int(self._user[row]))
        self._forget_order(owner)
        self._speakers.remove(owner, int(self._speaker[row]))
        if row != last:  # fill the hole with the last row so rows stay dense
            self._forget_order((int(self._tenant[last]), int(self._user[last])))
            for array in (self._vectors, *(getattr(self, name) for name in _ROW_FIELDS)):
                array[row] = array[last]
            self._doc_row[self._row_doc[row]] = row
        self._doc_row[doc] = -1
        self._size -= 1
        self._metadata_index.remove(doc, entry.metadata)
        self._lexical.remove(doc)
