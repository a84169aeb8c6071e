"""Words to index terms, for BM25 (memory layer, pure logic).

A term is a lower-cased word (Unicode ``\\w+``) that is not a stop word, at most 40
characters long, reduced to its Porter stem, so "camping", "camped" and "camps" meet in
"camp" (the way LanceDB's full-text index, the fallback beyond the RAM budget, also stems).
The stop words are the common English function words: in conversations they are in every
turn and only add noise to a score.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERM_CHARS = 40

# The common English function words (the list NLTK ships, which most IR tools start from).
_STOP_WORDS_TEXT = """
    a about above after again against ain all am an and any are aren aren't as at be because
    been before being below between both but by can couldn couldn't d did didn didn't do does
    doesn doesn't doing don don't down during each few for from further had hadn hadn't has
    hasn hasn't have haven haven't having he her here hers herself him himself his how i if
    in into is isn isn't it it's its itself just ll m ma me mightn mightn't more most mustn
    mustn't my myself needn needn't no nor not now o of off on once only or other our ours
    ourselves out over own re s same shan shan't she she's should should've shouldn
    shouldn't so some such t than that that'll the their theirs them themselves then there
    these they this those through to too under until up ve very was wasn wasn't we were
    weren weren't what when where which while who whom why will with won won't wouldn
    wouldn't y you you'd you'll you're you've your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_porter = snowballstemmer.stemmer("porter")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Porter stem of a lower-cased word (cached: conversations repeat their words)."""
    result: str = _porter.stemWord(word)
    return result


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that can become terms (stop words and overlong ones out)."""
    return [
        word
        for word in _WORD.findall(text.lower())
        if word not in STOP_WORDS and len(word) <= MAX_TERM_CHARS
    ]


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats kept (BM25 counts them)."""
    return [stem(word) for word in words(text)]
