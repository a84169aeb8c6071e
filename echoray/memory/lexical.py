"""An in-RAM BM25 index over the working set's texts (memory layer, lexical search).

Documents are the working set's stable document numbers. Postings are growable numpy
arrays per term, so scoring a query is a few vector operations per query term, not a
Python loop over documents. Removing a document marks it dead and updates the corpus
statistics; its postings are dropped lazily once dead entries make up half a list.

Documents and queries become terms with ``echoray.memory.terms`` (stop words out, Porter
stems), as LanceDB's full-text index (the fallback beyond the RAM budget) also stems.

Corpus statistics (document frequency, average length) span the whole shard, as LanceDB's
do; the candidates scored are only those the caller's filter allows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from echoray.memory.terms import terms as text_terms

# Above (postings scored) * this > documents, per-document sums use a dense array.
_DENSE_SUM_SHARE = 8


class _Postings:
    """The documents holding one term and how often, in growable arrays."""

    __slots__ = ("dead", "docs", "size", "tfs")

    def __init__(self) -> None:
        self.docs = np.empty(4, dtype=np.int64)
        self.tfs = np.empty(4, dtype=np.float32)
        self.size = 0
        self.dead = 0

    def append(self, doc: int, tf: int) -> None:
        if self.size == len(self.docs):
            self.docs = np.resize(self.docs, 2 * self.size)
            self.tfs = np.resize(self.tfs, 2 * self.size)
        self.docs[self.size] = doc
        self.tfs[self.size] = tf
        self.size += 1

    def compact(self, live: np.ndarray) -> None:
        keep = live[self.docs[: self.size]]
        docs, tfs = self.docs[: self.size][keep], self.tfs[: self.size][keep]
        self.size = len(docs)
        self.docs = np.resize(docs, max(4, self.size))
        self.tfs = np.resize(tfs, max(4, self.size))
        self.dead = 0


@dataclass(frozen=True)
class LexicalMatch:
    """A document and its BM25 score."""

    doc: int
    score: float


class BM25Index:
    """Okapi BM25 over documents added by number."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.5) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, _Postings] = {}
        self._df: Counter[str] = Counter()
        self._doc_terms: dict[int, list[str]] = {}
        self._doc_len = np.zeros(16, dtype=np.float32)
        self._live = np.zeros(16, dtype=bool)
        self._used = np.zeros(16, dtype=bool)
        self._total_len = 0.0
        self._next_doc = 0

    def __len__(self) -> int:
        return len(self._doc_terms)

    @property
    def next_doc(self) -> int:
        """One above the highest document number used (numbers are not reused)."""
        return self._next_doc

    def add(self, doc: int, text: str) -> None:
        """Index ``text`` as document ``doc``.

        Raises:
            ValueError: ``doc`` was added before. Numbers are never reused, because dead
                postings of a removed document would otherwise count for its successor.
        """
        if doc >= len(self._live):
            size = max(doc + 1, 2 * len(self._live))
            self._doc_len = np.resize(self._doc_len, size)
            self._live = np.concatenate([self._live, np.zeros(size - len(self._live), bool)])
            self._used = np.concatenate([self._used, np.zeros(size - len(self._used), bool)])
        if self._used[doc]:
            raise ValueError(f"document {doc} was indexed before; use a new number")
        self._used[doc] = True
        self._next_doc = max(self._next_doc, doc + 1)
        counts = Counter(text_terms(text))
        length = sum(counts.values())
        for term, tf in counts.items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = _Postings()
            postings.append(doc, tf)
            self._df[term] += 1
        self._doc_terms[doc] = list(counts)
        self._doc_len[doc] = length
        self._live[doc] = True
        self._total_len += length

    def remove(self, doc: int) -> None:
        """Forget document ``doc``; unknown documents are ignored."""
        terms = self._doc_terms.pop(doc, None)
        if terms is None:
            return
        self._live[doc] = False
        self._total_len -= float(self._doc_len[doc])
        for term in terms:
            self._df[term] -= 1
            postings = self._postings[term]
            if self._df[term] == 0:
                del self._df[term], self._postings[term]
                continue
            postings.dead += 1
            if postings.dead * 2 > postings.size:
                postings.compact(self._live)

    def scores(
        self, terms: Sequence[str], keep: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every document holding a query term, with its BM25 score: ``(docs, scores)``.

        Args:
            terms: query terms (``echoray.memory.terms``); repeats count once.
            keep: given an array of document numbers, a boolean array saying which the
                caller's filter allows; None allows all.
        """
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        unique_terms = list(dict.fromkeys(terms))
        live_docs = len(self._doc_terms)
        if not unique_terms or live_docs == 0:
            return empty
        average = self._total_len / live_docs or 1.0
        doc_parts: list[np.ndarray] = []
        score_parts: list[np.ndarray] = []
        for term in unique_terms:
            postings = self._postings.get(term)
            if postings is None:
                continue
            docs = postings.docs[: postings.size]
            tfs = postings.tfs[: postings.size]
            if postings.dead:
                alive = self._live[docs]
                docs, tfs = docs[alive], tfs[alive]
            df = self._df[term]
            idf = math.log(1.0 + (live_docs - df + 0.5) / (df + 0.5))
            norm = self.k1 * (1.0 - self.b + self.b * self._doc_len[docs] / average)
            doc_parts.append(docs)
            score_parts.append(idf * tfs * (self.k1 + 1.0) / (tfs + norm))
        if not doc_parts:
            return empty
        docs = np.concatenate(doc_parts)
        scores = np.concatenate(score_parts).astype(np.float64)
        if keep is not None:
            allowed = keep(docs)
            docs, scores = docs[allowed], scores[allowed]
        if len(docs) == 0:
            return empty
        if len(docs) * _DENSE_SUM_SHARE > len(self._live):
            # Many postings: summing into one slot per document number beats sorting them.
            summed = np.bincount(docs, weights=scores, minlength=len(self._live))
            unique = np.flatnonzero(summed)
            return unique, summed[unique]
        unique, inverse = np.unique(docs, return_inverse=True)
        return unique, np.bincount(inverse, weights=scores, minlength=len(unique))

    def search(
        self,
        query: str | Sequence[str],
        limit: int,
        keep: Callable[[np.ndarray], np.ndarray] | None = None,
        tie_key: Callable[[int], Any] | None = None,
    ) -> list[LexicalMatch]:
        """The ``limit`` best documents for ``query`` (free text, or its terms), best first.

        Args:
            query: free text, made into terms like the documents, or the terms themselves.
            limit: how many to return at most.
            keep: as for ``scores``.
            tie_key: orders documents with equal scores (default: their number).
        """
        terms = text_terms(query) if isinstance(query, str) else query
        if limit <= 0:
            return []
        unique, totals = self.scores(terms, keep)
        if len(unique) == 0:
            return []
        picked = top_with_ties(totals, limit)
        if tie_key is not None and len(picked) > limit:
            # Many documents can tie at the cut: only those need the (slower) tie key.
            cut = totals[picked].min()
            above = picked[totals[picked] > cut]
            tied = sorted(picked[totals[picked] == cut], key=lambda i: tie_key(int(unique[i])))
            picked = np.concatenate([above, np.asarray(tied[: limit - len(above)], np.int64)])
        order_key = tie_key or int
        best = sorted(
            ((int(unique[i]), float(totals[i])) for i in picked),
            key=lambda item: (-item[1], order_key(item[0])),
        )[:limit]
        return [LexicalMatch(doc, score) for doc, score in best]


class OwnerIndexes:
    """One ``BM25Index`` per owner (tenant, user), so a user's BM25 scores (document
    frequencies, average length) depend on their own memories only, not on whoever else
    shares the shard. Callers number documents globally; each owner's index numbers its own
    from 0 (small arrays per user), and results come back in global numbers."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.5) -> None:
        self.k1, self.b = k1, b
        self._indexes: dict[Any, BM25Index] = {}
        self._globals: dict[Any, np.ndarray] = {}  # owner -> global doc of each local doc
        self._local: dict[int, tuple[Any, int]] = {}  # global doc -> (owner, local doc)

    def add(self, owner: Any, doc: int, text: str) -> None:
        index = self._indexes.get(owner)
        if index is None:
            index = self._indexes[owner] = BM25Index(k1=self.k1, b=self.b)
            self._globals[owner] = np.zeros(16, dtype=np.int64)
        local = index.next_doc
        if local >= len(self._globals[owner]):
            self._globals[owner] = np.resize(self._globals[owner], 2 * local)
        self._globals[owner][local] = doc
        index.add(local, text)
        self._local[doc] = (owner, local)

    def remove(self, doc: int) -> None:
        found = self._local.pop(doc, None)
        if found is None:
            return
        owner, local = found
        index = self._indexes[owner]
        index.remove(local)
        if len(index) == 0:  # a fresh index numbers from 0 again
            del self._indexes[owner], self._globals[owner]

    def scores(
        self, owner: Any, terms: Sequence[str], keep: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``BM25Index.scores`` over the owner's memories, in global document numbers."""
        index = self._indexes.get(owner)
        if index is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        globals_ = self._globals[owner]
        docs, scores = index.scores(terms, lambda local: keep(globals_[local]))
        return globals_[docs], scores

    def search(
        self,
        owner: Any,
        query: str | Sequence[str],
        limit: int,
        keep: Callable[[np.ndarray], np.ndarray],
        tie_key: Callable[[int], Any],
    ) -> list[LexicalMatch]:
        """``BM25Index.search`` over the owner's memories, in global document numbers."""
        index = self._indexes.get(owner)
        if index is None:
            return []
        globals_ = self._globals[owner]
        matches = index.search(
            query,
            limit,
            lambda local: keep(globals_[local]),
            tie_key=lambda local: tie_key(int(globals_[local])),
        )
        return [LexicalMatch(int(globals_[m.doc]), m.score) for m in matches]


def top_with_ties(scores: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the ``limit`` highest scores plus any tied with the lowest of them, so
    the caller can break ties by a stable key instead of by position."""
    if limit <= 0 or len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    if limit >= len(scores):
        return np.arange(len(scores))
    kth = np.partition(scores, len(scores) - limit)[len(scores) - limit]
    return np.flatnonzero(scores >= kth)
