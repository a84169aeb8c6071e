"""BM25 on a tiny corpus, checked against the formula worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from echoray.memory.lexical import BM25Index

DOCS = {
    0: "apple banana apple",
    1: "banana cherry",
    2: "cherry cherry cherry durian",
    3: "the and of",  # only stop words
}


def bm25(tf: float, df: int, n: int, length: float, average: float) -> float:
    k1, b = 1.2, 0.75
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))


@pytest.fixture
def index() -> BM25Index:
    built = BM25Index(k1=1.2, b=0.75)
    for doc, text in DOCS.items():
        built.add(doc, text)
    return built


def test_default_parameters_fit_short_turns() -> None:
    assert (BM25Index().k1, BM25Index().b) == (1.2, 0.5)


def test_query_terms_may_be_given_instead_of_text(index: BM25Index) -> None:
    assert index.search(["banana"], 10) == index.search("bananas", 10)


def test_scores_follow_the_formula(index: BM25Index) -> None:
    n, average = 4, (3 + 2 + 4 + 0) / 4
    got = {m.doc: m.score for m in index.search("banana", 10)}
    assert got == pytest.approx({0: bm25(1, 2, n, 3, average), 1: bm25(1, 2, n, 2, average)})
    # Shorter document wins at equal term frequency.
    assert [m.doc for m in index.search("banana", 10)] == [1, 0]


def test_multi_term_query_sums(index: BM25Index) -> None:
    n, average = 4, 9 / 4
    matches = index.search("apple cherry", 10)
    expected = {
        0: bm25(2, 1, n, 3, average),
        1: bm25(1, 2, n, 2, average),
        2: bm25(3, 2, n, 4, average),
    }
    assert {m.doc: m.score for m in matches} == pytest.approx(expected)
    assert [m.doc for m in matches] == sorted(expected, key=lambda d: -expected[d])


def test_limit_unknown_terms_and_stop_words(index: BM25Index) -> None:
    assert len(index.search("apple banana cherry", 2)) == 2
    assert index.search("zebra", 5) == []
    assert index.search("the and", 5) == []
    assert index.search("", 5) == []


def test_keep_filters_candidates(index: BM25Index) -> None:
    matches = index.search("banana cherry", 10, keep=lambda docs: docs != 1)
    assert 1 not in {m.doc for m in matches}
    assert {m.doc for m in matches} == {0, 2}


def test_remove_updates_statistics_and_compacts(index: BM25Index) -> None:
    index.remove(0)
    index.remove(0)  # unknown now: ignored
    assert len(index) == 3
    n, average = 3, (2 + 4 + 0) / 3
    assert [(m.doc, m.score) for m in index.search("banana", 10)] == [
        (1, pytest.approx(bm25(1, 1, n, 2, average)))
    ]
    assert index.search("apple", 10) == []


def test_numbers_are_never_reused(index: BM25Index) -> None:
    index.remove(1)
    with pytest.raises(ValueError):
        index.add(1, "banana")


def test_many_documents_with_churn_match_a_fresh_index() -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    texts = {d: " ".join(rng.choice(words, rng.integers(1, 12))) for d in range(400)}
    churned = BM25Index()
    for doc, text in texts.items():
        churned.add(doc, text)
    removed = set(rng.choice(400, 250, replace=False).tolist())
    for doc in removed:
        churned.remove(doc)
    fresh = BM25Index()
    for doc, text in texts.items():
        if doc not in removed:
            fresh.add(doc, text)
    for query in ("w1 w2", "w7", "w3 w4 w5 w29"):
        a = [(m.doc, round(m.score, 9)) for m in churned.search(query, 20)]
        b = [(m.doc, round(m.score, 9)) for m in fresh.search(query, 20)]
        assert a == b
