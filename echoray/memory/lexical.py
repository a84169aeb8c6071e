"""An in-RAM BM25 index over the working set's texts (memory layer, lexical search).

Documents are the working set's stable document numbers. Postings are growable numpy
arrays per term, so scoring a query is a few vector operations per query term, not a
Python loop over documents. Removing a document marks it dead and updates the corpus
statistics; its postings are dropped lazily once dead entries make up half a list.

The tokenizer lower-cases, splits on non-word characters (Unicode-aware) and drops a short
English stop-word list and tokens over 40 characters. No stemming: "runs" and "running"
differ here, while LanceDB's full-text index (the fallback beyond the RAM budget) stems.

Corpus statistics (document frequency, average length) span the whole shard, as LanceDB's
do; the candidates scored are only those the caller's filter allows.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
# Above (postings scored) * this > documents, per-document sums use a dense array.
_DENSE_SUM_SHARE = 8
_MAX_TOKEN_CHARS = 40
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
    ]
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` without stop words."""
    return [
        token
        for token in _WORD.findall(text.lower())
        if token not in STOP_WORDS and len(token) <= _MAX_TOKEN_CHARS
    ]


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

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, _Postings] = {}
        self._df: Counter[str] = Counter()
        self._doc_terms: dict[int, list[str]] = {}
        self._doc_len = np.zeros(1024, dtype=np.float32)
        self._live = np.zeros(1024, dtype=bool)
        self._used = np.zeros(1024, dtype=bool)
        self._total_len = 0.0

    def __len__(self) -> int:
        return len(self._doc_terms)

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
        counts = Counter(tokenize(text))
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

    def search(
        self,
        query: str,
        limit: int,
        keep: Callable[[np.ndarray], np.ndarray] | None = None,
        tie_key: Callable[[int], Any] | None = None,
    ) -> list[LexicalMatch]:
        """The ``limit`` best documents for ``query``, best first.

        Args:
            query: free text, tokenized like the documents.
            limit: how many to return at most.
            keep: given an array of document numbers, a boolean array saying which the
                caller's filter allows; None allows all.
            tie_key: orders documents with equal scores (default: their number).
        """
        terms = list(dict.fromkeys(tokenize(query)))
        live_docs = len(self._doc_terms)
        if not terms or live_docs == 0 or limit <= 0:
            return []
        average = self._total_len / live_docs or 1.0
        doc_parts: list[np.ndarray] = []
        score_parts: list[np.ndarray] = []
        for term in terms:
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
            return []
        docs = np.concatenate(doc_parts)
        scores = np.concatenate(score_parts).astype(np.float64)
        if keep is not None:
            allowed = keep(docs)
            docs, scores = docs[allowed], scores[allowed]
        if len(docs) == 0:
            return []
        if len(docs) * _DENSE_SUM_SHARE > len(self._live):
            # Many postings: summing into one slot per document number beats sorting them.
            summed = np.bincount(docs, weights=scores, minlength=len(self._live))
            unique = np.flatnonzero(summed)
            totals = summed[unique]
        else:
            unique, inverse = np.unique(docs, return_inverse=True)
            totals = np.bincount(inverse, weights=scores, minlength=len(unique))
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


def top_with_ties(scores: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the ``limit`` highest scores plus any tied with the lowest of them, so
    the caller can break ties by a stable key instead of by position."""
    if limit <= 0 or len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    if limit >= len(scores):
        return np.arange(len(scores))
    kth = np.partition(scores, len(scores) - limit)[len(scores) - limit]
    return np.flatnonzero(scores >= kth)
