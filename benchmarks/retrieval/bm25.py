"""The BM25 baseline, now in ``echoray.evaluation.bm25`` (re-exported; the registry names it
here)."""

from echoray.evaluation.bm25 import STOPWORDS, BM25Index, BM25Retriever, tokenize

__all__ = ["STOPWORDS", "BM25Index", "BM25Retriever", "tokenize"]
