"""The timed query loop: index each sample, query its questions, keep rankings and latencies.

Each sample is indexed once (build time recorded), one untimed warm-up query runs, then every
question of the sample is queried ``repeats`` times. Rankings are kept from the first repeat
and checked identical in later ones; latencies are kept per repeat so figures can be medians
over repeats. Questions without usable evidence are still queried (they cost latency like any
query) but yield no QuestionOutcome.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from echoray.evaluation.locomo import Memory, Sample
from echoray.evaluation.metrics import QuestionOutcome, group_names


class Retriever(Protocol):
    """Ranks one sample's memories for a query; ``index`` replaces any previous index, so
    one instance serves every sample in turn."""

    name: str

    def index(self, memories: Sequence[Memory]) -> None:
        """Index one sample's memories, replacing any previous index."""

    def search(self, query: str, k: int) -> list[str]:
        """Return up to k memory ids, most relevant first."""


@dataclass(frozen=True)
class QueryTiming:
    """Latency of one query in one repeat, with the groups its question counts in."""

    groups: tuple[str, ...]
    seconds: float


@dataclass
class RetrieverRun:
    """Everything measured for one retriever over the selected samples."""

    name: str
    outcomes: list[QuestionOutcome] = field(default_factory=list)
    timings_by_repeat: list[list[QueryTiming]] = field(default_factory=list)
    index_seconds: list[float] = field(default_factory=list)
    rankings_stable: bool = True


def evaluate_retriever(
    retriever: Retriever, samples: Sequence[Sample], *, repeats: int, max_k: int
) -> RetrieverRun:
    """Run every question of every sample against ``retriever``, each sample its own index."""
    run = RetrieverRun(retriever.name, timings_by_repeat=[[] for _ in range(repeats)])
    for sample in samples:
        started = time.perf_counter()
        retriever.index(sample.memories)
        run.index_seconds.append(time.perf_counter() - started)
        if sample.questions:
            retriever.search(sample.questions[0].text, max_k)  # warm-up: lazy init, caches
        for question in sample.questions:
            # Questions without usable evidence only count in the all-queries latency.
            groups = tuple(group_names(question.category)) if question.evidence else ()
            first_ranking: list[str] | None = None
            for repeat in range(repeats):
                started = time.perf_counter()
                ranking = retriever.search(question.text, max_k)
                elapsed = time.perf_counter() - started
                run.timings_by_repeat[repeat].append(QueryTiming(groups, elapsed))
                if first_ranking is None:
                    first_ranking = ranking
                elif ranking != first_ranking:
                    run.rankings_stable = False
            if question.evidence and first_ranking is not None:
                run.outcomes.append(
                    QuestionOutcome(question.category, question.evidence, tuple(first_ranking))
                )
    return run
