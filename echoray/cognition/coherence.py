"""Coherence check: no repeats, no stale contradictions, a diverse selection (cognition layer).

Three passes over the scored candidates:

1. Near-duplicates (cosine >= ``duplicate_cosine``): the higher-scored one stays, the other
   is dropped as "near-duplicate of <id>". Repeats waste the token budget.
2. Conflicts: two memories about the same thing (``conflict_cosine`` <= cosine <
   ``duplicate_cosine``) that ``disagree``; the newer one (``created_at``; on a tie the
   higher score) stays, the older is dropped as "superseded by <id>", and the newer one
   gets the reason "supersedes <id>". Telling the model both "the flight is at 9" and "the
   flight is at 11" invites it to pick the stale one.
3. Selection by maximal marginal relevance: repeatedly take the candidate maximising
   ``λ*score - (1-λ)*(max cosine to those already taken)``, up to ``limit``, so the
   context covers several aspects instead of one aspect several times.

What counts as disagreement (``disagree``) is a cheap, offline, English-only heuristic on
word tokens; any one rule suffices:

- negation: exactly one of the two texts holds a negation word (not, no, never, nothing,
  nobody, none, neither, nor, cannot, or a word ending in "n't") and, negations aside, their
  word sets overlap by Jaccard >= 0.5 ("I like coffee" / "I don't like coffee");
- numbers: both mention numbers, neither's set of numbers contains the other's, and their
  other words overlap by Jaccard >= 0.5 ("the flight leaves at 9" / "the flight leaves at
  11 now");
- value swap: the two texts share a beginning of at least two words, and after it and the
  shared ending each has one to three different words, which are at most half of the longer
  text ("I live in Berlin" / "I live in Lisbon").

It misses paraphrased contradictions and flags true statements of the same shape about
different occasions ("I ran 5 km on Monday" / "I ran 10 km on Tuesday"); the cosine gate
keeps it to memories that the embedder already finds about the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from echoray.cognition.state import Candidate, CognitiveState, by_score

NEGATIONS = frozenset(
    {"not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "cannot"}
)
MIN_OVERLAP = 0.5
MIN_SHARED_PREFIX = 2
MAX_SWAPPED_WORDS = 3

_WORD = re.compile(r"[a-z0-9]+(?:[.,:][0-9]+)*(?:'[a-z]+)?")
_NUMBER = re.compile(r"^[0-9]+(?:[.,:][0-9]+)*$")

Cosine = Callable[[Candidate, Candidate], float]


def check_coherence(
    state: CognitiveState,
    *,
    duplicate_cosine: float,
    conflict_cosine: float,
    mmr_lambda: float,
    limit: int,
) -> None:
    """Stage: drop duplicates and superseded memories, then select up to ``limit`` by MMR.

    Leaves the survivors in ``state.candidates`` (by score), the selection in
    ``state.selected`` (in the order MMR took them) and each drop in ``state.dropped``.
    """
    ordered = sorted(state.candidates, key=by_score)
    if not ordered:
        state.selected = []
        return
    vectors = np.stack([c.vector for c in ordered]).astype(np.float32)
    cosine = vectors @ vectors.T
    index = {id(c): i for i, c in enumerate(ordered)}

    def cos(a: Candidate, b: Candidate) -> float:
        return float(cosine[index[id(a)], index[id(b)]])

    # 1. near-duplicates: walking by score, the first of each group is the best-scored.
    distinct: list[Candidate] = []
    for candidate in ordered:
        original = next((k for k in distinct if cos(candidate, k) >= duplicate_cosine), None)
        if original is None:
            distinct.append(candidate)
        else:
            state.drop(candidate, f"near-duplicate of {original.id}")

    # 2. conflicts: walking newest first, a memory yields to a newer one it disagrees with.
    newest_first = sorted(distinct, key=lambda c: (c.created_at, c.score), reverse=True)
    current: list[Candidate] = []
    for candidate in newest_first:
        newer = next(
            (
                k
                for k in current
                if conflict_cosine <= cos(candidate, k) < duplicate_cosine
                and disagree(candidate.text, k.text)
            ),
            None,
        )
        if newer is None:
            current.append(candidate)
        else:
            state.drop(candidate, f"superseded by {newer.id}")
            newer.reasons.append(f"supersedes {candidate.id}")
    state.candidates = sorted(current, key=by_score)

    # 3. MMR over the survivors, in score order so ties go to the better-scored.
    state.selected = _mmr(state.candidates, cos, mmr_lambda, limit)


def _mmr(
    pool: list[Candidate],
    cos: Cosine,
    mmr_lambda: float,
    limit: int,
) -> list[Candidate]:
    remaining = list(pool)
    chosen: list[Candidate] = []
    while remaining and len(chosen) < limit:
        gains = [
            mmr_lambda * c.score - (1 - mmr_lambda) * max((cos(c, s) for s in chosen), default=0.0)
            for c in remaining
        ]
        chosen.append(remaining.pop(int(np.argmax(gains))))
    return chosen


def disagree(a: str, b: str) -> bool:
    """Whether two texts about the same thing contradict each other (see the module doc)."""
    words_a, words_b = _words(a), _words(b)
    return (
        _negation_flip(words_a, words_b)
        or _numbers_differ(words_a, words_b)
        or _value_swap(words_a, words_b)
    )


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _negated(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _negation_flip(a: list[str], b: list[str]) -> bool:
    if any(map(_negated, a)) == any(map(_negated, b)):
        return False
    rest_a = {w for w in a if not _negated(w)}
    rest_b = {w for w in b if not _negated(w)}
    return _jaccard(rest_a, rest_b) >= MIN_OVERLAP


def _numbers_differ(a: list[str], b: list[str]) -> bool:
    numbers_a = {w for w in a if _NUMBER.match(w)}
    numbers_b = {w for w in b if _NUMBER.match(w)}
    if not numbers_a or not numbers_b or numbers_a <= numbers_b or numbers_b <= numbers_a:
        return False
    return _jaccard(set(a) - numbers_a, set(b) - numbers_b) >= MIN_OVERLAP


def _value_swap(a: list[str], b: list[str]) -> bool:
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    if prefix < MIN_SHARED_PREFIX:
        return False
    suffix = 0
    while (
        suffix < min(len(a), len(b)) - prefix and a[len(a) - 1 - suffix] == b[len(b) - 1 - suffix]
    ):
        suffix += 1
    swapped_a, swapped_b = len(a) - prefix - suffix, len(b) - prefix - suffix
    longest = max(len(a), len(b))
    return (
        1 <= swapped_a <= MAX_SWAPPED_WORDS
        and 1 <= swapped_b <= MAX_SWAPPED_WORDS
        and max(swapped_a, swapped_b) * 2 <= longest
    )
