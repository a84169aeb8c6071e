"""One BM25 index per owner: each owner's statistics are its own, documents are global."""

from __future__ import annotations

import math

import numpy as np
import pytest

from echoray.memory.lexical import OwnerIndexes
from echoray.memory.terms import terms

A, B = ("t", "a"), ("t", "b")
APPLE = terms("apple")


def allow_all(docs: np.ndarray) -> np.ndarray:
    return np.ones(len(docs), dtype=bool)


def indexes() -> OwnerIndexes:
    """Owner A: three apple docs; owner B: one apple doc of three. Every doc has two terms,
    so each length equals the average and BM25 of a term found once is its IDF:
    tf (k1 + 1) / (tf + k1 (1 - b + b)) = (k1 + 1) / (1 + k1) = 1."""
    built = OwnerIndexes()
    for doc, text in [(100, "apple pie"), (205, "apple tart"), (307, "apple jam")]:
        built.add(A, doc, text)
    for doc, text in [(1, "apple cake"), (2, "banana bread"), (3, "cherry soup")]:
        built.add(B, doc, text)
    return built


def as_dict(found: tuple[np.ndarray, np.ndarray]) -> dict[int, float]:
    docs, scores = found
    return dict(zip(docs.tolist(), scores.tolist(), strict=True))


def test_each_owner_scores_a_term_by_its_own_document_frequency() -> None:
    built = indexes()
    # A: n 3, df 3 -> ln(1 + 0.5 / 3.5) = ln(8/7); B: n 3, df 1 -> ln(1 + 2.5 / 1.5) = ln(8/3).
    # (One index over all six docs would give n 6, df 4 -> ln(1 + 2.5 / 4.5) to all four.)
    common = math.log(8 / 7)
    assert as_dict(built.scores(A, APPLE, allow_all)) == pytest.approx(
        {100: common, 205: common, 307: common}
    )
    assert as_dict(built.scores(B, APPLE, allow_all)) == pytest.approx({1: math.log(8 / 3)})


def test_keep_is_given_and_filters_global_document_numbers() -> None:
    built = indexes()
    seen: list[int] = []

    def keep(docs: np.ndarray) -> np.ndarray:
        seen.extend(docs.tolist())
        return docs != 205

    docs, _ = built.scores(A, APPLE, keep)
    assert sorted(docs.tolist()) == [100, 307]
    assert sorted(seen) == [100, 205, 307]


def test_an_unknown_owner_has_no_scores() -> None:
    docs, scores = indexes().scores(("t", "nobody"), APPLE, allow_all)
    assert (len(docs), len(scores)) == (0, 0)


def test_a_removed_document_leaves_its_owners_statistics() -> None:
    built = indexes()
    built.remove(307)
    built.remove(999)  # unknown: ignored
    # A: n 2, df 2 -> ln(1 + 0.5 / 2.5) = ln(1.2); B unchanged.
    assert as_dict(built.scores(A, APPLE, allow_all)) == pytest.approx(
        {100: math.log(1.2), 205: math.log(1.2)}
    )
    assert as_dict(built.scores(B, APPLE, allow_all)) == pytest.approx({1: math.log(8 / 3)})


def test_an_emptied_owners_index_starts_afresh() -> None:
    built = indexes()
    for doc in (100, 205, 307):
        built.remove(doc)
    assert as_dict(built.scores(A, APPLE, allow_all)) == {}
    assert A not in built._indexes  # its index was dropped, not kept empty
    built.add(A, 400, "apple")
    # n 1, df 1 -> ln(1 + 0.5 / 1.5) = ln(4/3); length 1 = average, so tf weight 1.
    assert as_dict(built.scores(A, APPLE, allow_all)) == pytest.approx({400: math.log(4 / 3)})
    assert [m.doc for m in built.search(A, "apple", 5, allow_all, tie_key=int)] == [400]


def test_search_returns_global_documents_best_first() -> None:
    built = OwnerIndexes()
    built.add(A, 50, "apple apple pear")
    built.add(A, 60, "pear plum fig")
    built.add(B, 70, "apple")
    matches = built.search(A, "apple pear", 5, allow_all, tie_key=int)
    assert [m.doc for m in matches] == [50, 60]


def test_an_owner_with_many_documents_keeps_their_global_numbers() -> None:
    built = OwnerIndexes()
    for i in range(40):  # past the 16 global numbers an owner starts with
        built.add(A, 1000 + 3 * i, f"word{i} common")
    docs, _ = built.scores(A, terms("word37"), allow_all)
    assert docs.tolist() == [1000 + 3 * 37]
    assert len(built.scores(A, terms("common"), allow_all)[0]) == 40
