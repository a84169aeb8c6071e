"""The retrieval metrics, now in ``echoray.evaluation.metrics`` (re-exported)."""

from echoray.evaluation.metrics import (
    DEFAULT_KS,
    HEADLINE_CATEGORIES,
    OVERALL,
    QuestionOutcome,
    aggregate,
    all_found_at_k,
    group_names,
    recall_at_k,
    reciprocal_rank,
    score_question,
)

__all__ = [
    "DEFAULT_KS",
    "HEADLINE_CATEGORIES",
    "OVERALL",
    "QuestionOutcome",
    "aggregate",
    "all_found_at_k",
    "group_names",
    "recall_at_k",
    "reciprocal_rank",
    "score_question",
]
