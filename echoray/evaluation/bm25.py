"""Okapi BM25 over memory texts: the lexical baseline retriever (pure Python).

Scoring: ``idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))`` with k1 = 1.2,
b = 0.75 and the non-negative idf ``ln(1 + (N - n + 0.5) / (n + 0.5))`` (as in Lucene), so a
term present in most memories still counts a little instead of subtracting. Tokens are
lowercase runs of letters and digits; the baseline keeps every token (no stemming, no stop
words: plain Okapi BM25), ``stopwords=True`` drops a small English stopword list.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from echoray.evaluation.locomo import Memory

_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORD_TEXT = """
    a about after all also am an and any are as at be because been before being but by can
    could did do does doing for from had has have having he her here hers him his how i if in
    into is it its just me more most my no nor not of off on once only or other our ours out
    over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours s t d ll m re ve
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def tokenize(text: str, stopwords: bool = True) -> list[str]:
    """Lowercase word tokens of ``text`` (apostrophes split words), without stopwords unless
    ``stopwords`` is False."""
    tokens = _TOKEN.findall(text.lower())
    return [token for token in tokens if token not in STOPWORDS] if stopwords else tokens


class BM25Index:
    """An in-memory Okapi BM25 index over a fixed list of documents."""

    def __init__(
        self,
        documents: Sequence[str],
        k1: float = 1.2,
        b: float = 0.75,
        stopwords: bool = False,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.stopwords = stopwords
        self._term_counts = [Counter(tokenize(document, stopwords)) for document in documents]
        self._lengths = [sum(counts.values()) for counts in self._term_counts]
        self._average_length = (sum(self._lengths) / len(self._lengths)) if documents else 0.0
        document_frequency: Counter[str] = Counter()
        for counts in self._term_counts:
            document_frequency.update(counts.keys())
        total = len(documents)
        self._idf = {
            term: math.log(1.0 + (total - frequency + 0.5) / (frequency + 0.5))
            for term, frequency in document_frequency.items()
        }

    def scores(self, query: str) -> list[float]:
        """BM25 score of every document for ``query``, in document order."""
        terms = [term for term in tokenize(query, self.stopwords) if term in self._idf]
        results = []
        for counts, length in zip(self._term_counts, self._lengths, strict=True):
            norm = self.k1 * (1.0 - self.b + self.b * length / (self._average_length or 1.0))
            score = 0.0
            for term in terms:
                frequency = counts.get(term, 0)
                if frequency:
                    score += self._idf[term] * frequency * (self.k1 + 1.0) / (frequency + norm)
            results.append(score)
        return results

    def top(self, query: str, k: int) -> list[int]:
        """Indices of the k best-scoring documents with a positive score, best first.

        Ties keep document order, so results are deterministic.
        """
        scored = [(score, index) for index, score in enumerate(self.scores(query)) if score > 0]
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [index for _, index in scored[:k]]


class BM25Retriever:
    """Retriever protocol over :class:`BM25Index`; ``index`` replaces any previous index."""

    name = "bm25"

    def __init__(self, k1: float = 1.2, b: float = 0.75, stopwords: bool = False) -> None:
        self.k1 = k1
        self.b = b
        self.stopwords = stopwords
        self._ids: list[str] = []
        self._index = BM25Index([], k1, b, stopwords)

    def index(self, memories: Sequence[Memory]) -> None:
        """Index the memories of one sample, replacing what was indexed before."""
        self._ids = [memory.id for memory in memories]
        texts = [memory.text for memory in memories]
        self._index = BM25Index(texts, self.k1, self.b, self.stopwords)

    def search(self, query: str, k: int) -> list[str]:
        """Ids of up to k memories matching ``query`` lexically, best first."""
        return [self._ids[index] for index in self._index.top(query, k)]
