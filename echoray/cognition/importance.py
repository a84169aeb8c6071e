"""How much a new memory matters, judged when it is written (cognition layer).

Importance feeds resonance at recall and protects a memory from forgetting, so it must be
cheap (it runs on every write) and explainable. It is the mean of two halves:

- novelty: ``1 - max cosine`` to the user's nearest existing memories: the tenth "I like
  coffee" teaches little, a first mention of a new topic a lot;
- salience, the sum of four cheap text signals (weights in ``SALIENCE_WEIGHTS``):
  length (words up to ``FULL_LENGTH_WORDS``; "ok thanks" carries little), first person
  ("I", "my", "me", "I'm", ...: what the user says about themself is what memory is for),
  digits (dates, amounts, times) and proper nouns (people, places, names: a capitalised
  word that is not one of the ``COMMON_CAPITALISED`` words sentences often start with; an
  ordinary word starting a sentence sometimes counts too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

FULL_LENGTH_WORDS = 20
SALIENCE_WEIGHTS = {"length": 0.3, "first_person": 0.3, "digits": 0.2, "proper_nouns": 0.2}
NOVELTY_SHARE = 0.5

_WORD = re.compile(r"[A-Za-z0-9][\w'\u2019]*")
_FIRST_PERSON = frozenset(
    {"i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll", "we", "our", "us"}
)
_DIGIT = re.compile(r"\d")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+")
# Words that are capitalised mostly because they start a sentence.
_COMMON_STARTERS = """
a an the i i'm we my our me it its this that these those he she they his her their you
your there then so and but or if when what who how why where yes no ok okay hi hey hello
thanks thank please today yesterday tomorrow also just in on at after before now well oh
sure
"""
COMMON_CAPITALISED = frozenset(_COMMON_STARTERS.split())


def novelty(neighbour_cosines: Sequence[float]) -> float:
    """``1 - max cosine`` to existing memories, in [0, 1]; 1 when there are none."""
    if len(neighbour_cosines) == 0:
        return 1.0
    return min(1.0, max(0.0, 1.0 - max(float(c) for c in neighbour_cosines)))


def salience(text: str) -> float:
    """The text signals, in [0, 1] (see the module doc)."""
    words = _WORD.findall(text)
    lowered = {w.lower().replace("\u2019", "'") for w in words}
    signals = {
        "length": min(1.0, len(words) / FULL_LENGTH_WORDS),
        "first_person": 1.0 if lowered & _FIRST_PERSON else 0.0,
        "digits": 1.0 if _DIGIT.search(text) else 0.0,
        "proper_nouns": 1.0 if _has_proper_noun(text) else 0.0,
    }
    return sum(SALIENCE_WEIGHTS[name] * value for name, value in signals.items())


def _has_proper_noun(text: str) -> bool:
    return any(w.lower() not in COMMON_CAPITALISED for w in _CAPITALISED.findall(text))


def importance(vector: np.ndarray, neighbour_cosines: Sequence[float], text: str) -> float:
    """Importance of a new memory in [0, 1]: ``NOVELTY_SHARE`` novelty, the rest salience.

    ``neighbour_cosines`` are the cosines of ``vector`` to the user's nearest memories (the
    store's search returns them); ``vector`` itself is only checked, so a bad embedding
    fails here rather than as a silently high novelty.

    Raises:
        ValueError: ``vector`` is empty or not finite.
    """
    array = np.asarray(vector, dtype=np.float32)
    if array.size == 0 or not bool(np.all(np.isfinite(array))):
        raise ValueError("vector must be a non-empty array of finite numbers")
    value = NOVELTY_SHARE * novelty(neighbour_cosines) + (1 - NOVELTY_SHARE) * salience(text)
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0
