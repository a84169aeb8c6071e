"""Who spoke and in what order: the conversation structure of a working set (memory layer,
pure logic).

``Speakers`` interns speaker names and counts each owner's memories per speaker, so a query
can be read against the names of the user's own conversations. ``session_order`` and
``previous_docs`` find the turn written just before each memory in its session (by
``created_at``, then by write order), the turn whose score lifts the one after it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

NO_SPEAKER = -1
Owner = tuple[int, int]


class Speakers:
    """Speaker names as integer codes, and how many memories each owner has per speaker."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        self._counts: dict[Owner, Counter[int]] = {}

    def add(self, owner: Owner, name: str | None) -> int:
        """Count one memory of ``owner`` said by ``name``; returns its code (or NO_SPEAKER)."""
        if name is None:
            return NO_SPEAKER
        code = self._codes.setdefault(name, len(self._names))
        if code == len(self._names):
            self._names.append(name)
        self._counts.setdefault(owner, Counter())[code] += 1
        return code

    def remove(self, owner: Owner, code: int) -> None:
        """Uncount one memory of ``owner`` said by the speaker ``code``."""
        counts = self._counts.get(owner)
        if code == NO_SPEAKER or counts is None:
            return
        counts[code] -= 1
        if counts[code] <= 0:
            del counts[code]
        if not counts:
            del self._counts[owner]

    def of(self, owner: Owner | None) -> list[str]:
        """The speakers of an owner's memories, most memories first."""
        counts = self._counts.get(owner) if owner is not None else None
        return [self._names[code] for code, _ in counts.most_common()] if counts else []


def session_order(
    docs: np.ndarray, session: np.ndarray, created: np.ndarray, no_session: int
) -> tuple[np.ndarray, np.ndarray]:
    """For memories given by document number, session code and creation time: their docs
    sorted, and for each the doc of the memory before it in its session (-1 for the first
    and for memories without a session, ``no_session``). Equal times keep write order
    (document numbers grow as memories are written)."""
    order = np.lexsort((docs, created, session))
    previous = np.full(len(docs), -1, dtype=np.int64)
    ordered = session[order]
    same = (ordered[1:] == ordered[:-1]) & (ordered[1:] != no_session)
    previous[order[1:][same]] = docs[order[:-1][same]]
    by_doc = np.argsort(docs)
    return docs[by_doc], previous[by_doc]


def previous_docs(order: tuple[np.ndarray, np.ndarray], wanted: np.ndarray) -> np.ndarray:
    """The previous doc (``session_order``) of each of ``wanted``, or -1 (also for unknown)."""
    docs, previous = order
    if len(docs) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(docs, wanted), len(docs) - 1)
    return np.where(docs[at] == wanted, previous[at], -1)
