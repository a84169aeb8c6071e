"""What a query asks, read before ranking (memory layer, pure logic).

``plan_query`` reads a query against the speakers of the user's memories:

- which speakers it names ("What did Ana paint?"): their turns are lifted, and their names
  are taken out of the BM25 terms (the speaker is a field, not a word of the turns);
- whether it asks for a time, and the period it names, if any (``timewords``);
- the text to embed: the names replaced by "they"/"their", so the query vector says what
  is asked rather than who, which every one of that speaker's turns would match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from echoray.memory.speakers import name_forms
from echoray.memory.terms import terms
from echoray.memory.timewords import Period, asks_when, named_period


@dataclass(frozen=True)
class QueryPlan:
    """A query read for ranking; see the module docstring."""

    text: str
    lexical_terms: tuple[str, ...]
    named_speakers: frozenset[str]
    asks_when: bool
    period: Period | None


def _name_pattern(speakers: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any speaker's name forms as whole words, longest first, with an
    optional possessive ("Ana's")."""
    forms = sorted({form for speaker in speakers for form in name_forms(speaker)}, key=len)
    if not forms:
        return None
    names = "|".join(re.escape(form) for form in reversed(forms))
    return re.compile(rf"\b(?P<name>{names})(?P<possessive>'s|\u2019s|')?(?!\w)", re.IGNORECASE)


def _named(pattern: re.Pattern[str] | None, text: str, speakers: Iterable[str]) -> set[str]:
    if pattern is None:
        return set()
    found = {" ".join(m.group("name").lower().split()) for m in pattern.finditer(text)}
    return {s for s in speakers if found.intersection(name_forms(s))}


def embedding_text(query: str, speakers: Iterable[str]) -> str:
    """``query`` with the speakers' names replaced by "they" (or "their" for "Ana's")."""
    pattern = _name_pattern(speakers)
    if pattern is None:
        return query
    return pattern.sub(lambda m: "their" if m.group("possessive") else "they", query)


def plan_query(query: str, speakers: Iterable[str]) -> QueryPlan:
    """Read ``query`` against the user's ``speakers``; see the module docstring."""
    speakers = list(speakers)
    pattern = _name_pattern(speakers)
    named = _named(pattern, query, speakers)
    name_terms = {term for speaker in named for term in terms(speaker)}
    lexical = tuple(term for term in terms(query) if term not in name_terms)
    return QueryPlan(
        text=query,
        lexical_terms=lexical,
        named_speakers=frozenset(named),
        asks_when=asks_when(query),
        period=named_period(query),
    )
