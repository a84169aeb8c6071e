"""Retrieval quality metrics over ranked memory ids (pure Python).

Conventions, chosen so a retriever cannot score by repeating itself:
- the top k are the first k *positions* of the ranking as returned; an id repeated there
  uses a slot but counts once;
- relevant ids are a set (duplicates in the evidence count once);
- a question without relevant ids has no recall: callers skip it and count it (ValueError).

Aggregation groups: ``overall`` (categories 1-4, the headline), one group per category, and
``adversarial`` (category 5) reported apart from the headline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from echoray.evaluation.locomo import ADVERSARIAL_CATEGORY, CATEGORY_NAMES

DEFAULT_KS = (1, 5, 10, 20)
HEADLINE_CATEGORIES = frozenset({1, 2, 3, 4})
OVERALL = "overall"


def _check(relevant: Iterable[str], k: int | None = None) -> set[str]:
    relevant_set = set(relevant)
    if not relevant_set:
        raise ValueError("no relevant ids: skip this question and count it")
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return relevant_set


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Fraction of the relevant ids found among the first k positions of ``ranked``."""
    relevant_set = _check(relevant, k)
    return len(relevant_set.intersection(ranked[:k])) / len(relevant_set)


def all_found_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """1.0 if every relevant id is among the first k positions of ``ranked``, else 0.0."""
    relevant_set = _check(relevant, k)
    return 1.0 if relevant_set.issubset(ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str]) -> float:
    """1 / (1-based position of the first relevant id in ``ranked``); 0.0 if none is there."""
    relevant_set = _check(relevant)
    for position, memory_id in enumerate(ranked, start=1):
        if memory_id in relevant_set:
            return 1.0 / position
    return 0.0


@dataclass(frozen=True)
class QuestionOutcome:
    """One answered query: its category, evidence and the ranking a retriever returned."""

    category: int | None
    relevant: tuple[str, ...]
    ranked: tuple[str, ...]


def group_names(category: int | None) -> list[str]:
    """The aggregation groups a question of ``category`` belongs to."""
    if category is None:
        return []
    name = "adversarial" if category == ADVERSARIAL_CATEGORY else CATEGORY_NAMES.get(category)
    if name is None:
        return [f"category-{category}"]
    return [OVERALL, name] if category in HEADLINE_CATEGORIES else [name]


def score_question(outcome: QuestionOutcome, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """recall@k, all_found@k for each k, and mrr, for one question with evidence."""
    scores = {f"recall@{k}": recall_at_k(outcome.ranked, outcome.relevant, k) for k in ks}
    scores |= {f"all_found@{k}": all_found_at_k(outcome.ranked, outcome.relevant, k) for k in ks}
    scores["mrr"] = reciprocal_rank(outcome.ranked, outcome.relevant)
    return scores


def aggregate(
    outcomes: Iterable[QuestionOutcome], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, dict[str, float]]:
    """Mean of each metric per group, with ``n`` (questions scored) per group.

    Questions without relevant ids must be filtered out by the caller. Groups are ordered:
    overall, categories 1-4 in id order, adversarial, then any unknown category.
    """
    sums: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for outcome in outcomes:
        scores = score_question(outcome, ks)
        for group in group_names(outcome.category):
            group_sums = sums.setdefault(group, dict.fromkeys(scores, 0.0))
            for metric, value in scores.items():
                group_sums[metric] += value
            counts[group] = counts.get(group, 0) + 1
    headline = [CATEGORY_NAMES[category] for category in sorted(HEADLINE_CATEGORIES)]
    order = [OVERALL, *headline, "adversarial"]
    ordered_groups = [g for g in order if g in sums] + sorted(g for g in sums if g not in order)
    return {
        group: {"n": counts[group], **{m: v / counts[group] for m, v in sums[group].items()}}
        for group in ordered_groups
    }
